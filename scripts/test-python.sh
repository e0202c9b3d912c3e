#!/usr/bin/env bash
# The Python binding: install it into a fresh virtualenv the way a user would
# (pip builds the Rust library), then mypy --strict, pytest, the example, and the
# wheel's tag. Expects the debug sigma-mock to be built.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
venv=.venv-test
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "./bindings/python[test]"

echo "== mypy --strict"
(cd bindings/python && "../../$venv/bin/python" -m mypy --strict sigma_auth tests)

echo "== pytest"
# Run from outside the source tree so the installed package (with its library) is tested.
. scripts/summary.sh
pytest_log=$(mktemp)
SIGMA_MOCK_BIN="$PWD/target/$PROFILE/sigma-mock" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  --rootdir bindings/python bindings/python/tests | tee "$pytest_log"
summarize "Python tests: $(tail -1 "$pytest_log" | sed 's/ in [0-9.]*s.*//; s/=//g; s/^ *//') (mypy --strict clean)"
rm -f "$pytest_log"

echo "== example"
. scripts/mock.sh
start_mock
output=$(SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
  "$venv/bin/python" examples/python/get_token.py)
echo "$output"
grep -q "GET /v2/whoami: 200" <<<"$output"

echo "== wheel"
wheels=$(mktemp -d)
"$venv/bin/pip" wheel -q --no-deps -w "$wheels" ./bindings/python
ls "$wheels" | grep -E '^sigma_auth-[0-9.]+-py3-none-linux_x86_64\.whl$'
rm -rf "$wheels"
