#!/usr/bin/env bash
# README's test command: every test of every layer, against the mock on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROFILE=${PROFILE:-debug}
# Each layer adds its counts to this file; they are printed at the end.
SIGMA_TEST_SUMMARY=$(mktemp)
export SIGMA_TEST_SUMMARY
trap 'rm -f "$SIGMA_TEST_SUMMARY"' EXIT
. scripts/summary.sh
CARGO_FLAGS=()
[ "$PROFILE" = release ] && CARGO_FLAGS=(--release)

echo "== Rust: build, lint, header freshness"
cargo build --locked --workspace --all-targets "${CARGO_FLAGS[@]}"
cargo clippy --locked --workspace --all-targets "${CARGO_FLAGS[@]}" -- -D warnings
cargo fmt --all --check
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -q -p sigma-auth
(cd bindings/go && test -z "$(gofmt -l . ../../examples/go ../../bench/go ../../tools/gomodzip)")
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet -- include/sigma_auth.h; then
  git --no-pager diff --stat -- include/sigma_auth.h
  echo "include/sigma_auth.h differs from what cbindgen generates from src/ffi: commit the regenerated header" >&2
  exit 1
fi

# Every dependency of the library and of the command is used (rustc's own
# unused_crate_dependencies lint: a crate on the list that no code names fails).
# In the same compile, the system libraries a static link needs, as rustc
# reports them, must match native-static-libs.txt (which the Makefile, the .pc
# files and Go use).
if ! rustc_out=$(cargo rustc -q --locked -p sigma-auth --lib "${CARGO_FLAGS[@]}" -- \
  --print native-static-libs -D unused-crate-dependencies 2>&1); then
  echo "$rustc_out" >&2
  echo "the library depends on a crate it does not use (above): remove it from Cargo.toml" >&2
  exit 1
fi
cargo rustc -q --locked -p sigma-token --bin sigma-token "${CARGO_FLAGS[@]}" -- -D unused-crate-dependencies
reported=$(sed -n 's/.*native-static-libs: //p' <<<"$rustc_out" | head -1)
if [ "$reported" != "$(cat native-static-libs.txt)" ]; then
  echo "rustc reports '$reported' but native-static-libs.txt says '$(cat native-static-libs.txt)'" >&2
  exit 1
fi

echo "== Rust: tests (core, C ABI from Rust, mock)"
rust_log=$(mktemp)
cargo test --locked --workspace "${CARGO_FLAGS[@]}" 2>&1 | tee "$rust_log"
summarize "Rust tests: $(awk '/^test result:/ { p += $4; i += $8; b++ } END { print p " passed, " i " ignored, in " b " test binaries" }' "$rust_log")"
rm -f "$rust_log"

echo "== C and C++"
make -s c-tests examples PROFILE="$PROFILE"
scripts/test-c.sh

echo "== Python"
scripts/test-python.sh

echo "== Go"
scripts/test-go.sh

echo "== Node.js"
scripts/test-node.sh

echo "== Fuzz smoke"
scripts/test-fuzz.sh

echo
echo "== Summary"
cat "$SIGMA_TEST_SUMMARY"
