#!/usr/bin/env bash
# The Go binding: build the static archive it links, then go vet, go test (plain,
# -race, GOGC=1), the example against the mock, and a dynamically linked build.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
cargo build -q --locked --release -p sigma-auth
export SIGMA_MOCK_BIN="$PWD/target/$PROFILE/sigma-mock"

. scripts/summary.sh
counts="$PWD/scripts/go-test-counts.py"
runs=()
# go test -json, summarised: the failing tests' output, and the counts.
go_test() {
  local label=$1 line
  shift
  line=$(go test -count=1 -json "$@" ./... | python3 "$counts") || { echo "$line"; exit 1; }
  echo "$line"
  runs+=("${line%%,*} $label")
}

cd bindings/go
echo "== go vet"
go vet ./...
echo "== go test"
go_test plain
echo "== go test -race"
go_test race -race
echo "== go test with GOGC=1 (flushes out missing KeepAlives)"
GOGC=1 go_test GOGC=1
echo "== go test, dynamically linked"
ldconfig -n "$PWD/../../target/release" # the SONAME link, libsigma_auth.so.0.N
LD_LIBRARY_PATH="$PWD/../../target/release" go_test dynamic -tags sigma_dynamic
cd ../..
joined=$(printf '%s; ' "${runs[@]}")
summarize "Go tests: ${joined%; }"

echo "== example"
. scripts/mock.sh
start_mock
(cd examples/go && go vet ./... && go build -o "../../build/get_token_go" .)
output=$(SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret build/get_token_go)
echo "$output"
grep -q "GET /v2/whoami: 200" <<<"$output"
if ldd build/get_token_go | grep -q sigma_auth; then
  echo "the example should link libsigma_auth statically" >&2
  exit 1
fi
