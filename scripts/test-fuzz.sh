#!/usr/bin/env bash
# A short smoke of each fuzz target (the long runs are recorded in SECURITY.md).
# Needs cargo-fuzz (cargo install cargo-fuzz); stable Rust via RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/summary.sh
cd fuzz
seconds=${FUZZ_SECONDS:-15}
if ! cargo fuzz --version >/dev/null 2>&1; then
  summarize "Fuzz smoke: SKIPPED, cargo-fuzz is not installed (cargo install cargo-fuzz)"
  exit 0
fi
runs=0
for target in token_response endpoint; do
  corpus=$(mktemp -d)
  log=$(mktemp)
  echo "== fuzz $target for ${seconds}s"
  status=0
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s address "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "^stat::number_of_executed_units|^Done" "$log" || true
  if [ "$status" != 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz target $target failed" >&2
    exit 1
  fi
  rm -rf "$corpus" "$log"
  runs=$((runs + 1))
done
summarize "Fuzz smoke: $runs targets, ${seconds} s each, no crash"
