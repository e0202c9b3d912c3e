#!/usr/bin/env bash
# The Node.js package: its npm dependencies (npm ci), the native module built
# with @napi-rs/cli, tsc --strict over the types, node --test against the mock,
# and the example. Expects the debug sigma-mock to be built.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
root=$PWD
cd bindings/node
npm ci --no-audit --no-fund --loglevel=error
if [ "$PROFILE" = release ]; then npm run -s build:release; else npm run -s build; fi

echo "== tsc --strict"
npm run -s typecheck

echo "== node --test"
. "$root/scripts/summary.sh"
log=$(mktemp)
SIGMA_MOCK_BIN="$root/target/$PROFILE/sigma-mock" node --test --test-concurrency=1 --test-reporter=spec test/*.test.js | tee "$log"
summarize "Node.js tests: $(sed -n 's/^ℹ pass /passed /p' "$log"), $(sed -n 's/^ℹ fail /failed /p' "$log") (tsc --strict clean)"
rm -f "$log"

echo "== example"
cd "$root"
. scripts/mock.sh
start_mock
modules=$(mktemp -d)
ln -s "$root/bindings/node" "$modules/sigma-auth"
output=$(NODE_PATH="$modules" SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
  node examples/node/get_token.js)
rm -rf "$modules"
echo "$output"
grep -q "GET /v2/whoami: 200" <<<"$output"
