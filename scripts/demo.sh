#!/usr/bin/env bash
# README's main job: get a token through the C example. Uses Sigma when
# SIGMA_BASE_URL, SIGMA_CLIENT_ID and SIGMA_CLIENT_SECRET are all set, else the
# bundled mock Sigma server on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
. scripts/mock.sh

if [ -z "${SIGMA_BASE_URL:-}" ] || [ -z "${SIGMA_CLIENT_ID:-}" ] || [ -z "${SIGMA_CLIENT_SECRET:-}" ]; then
  start_mock
  export SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret
  echo "SIGMA_* not all set: using the bundled mock Sigma server at $MOCK_URL"
fi
"build/$PROFILE/get_token"
