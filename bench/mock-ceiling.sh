#!/usr/bin/env bash
# The mock's own ceiling: requests/s of its token endpoint with wrk over
# keep-alive, so benchmarks know when the mock, not the client, is the limit.
# Usage: bench/mock-ceiling.sh [seconds] (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
export PROFILE=release
cargo build -q --release -p sigma-mock
. scripts/mock.sh
start_mock
seconds=${1:-10}
echo "== token endpoint (issues a token per request), 2 threads, 100 connections, ${seconds}s"
wrk -t2 -c100 -d"${seconds}s" -s bench/wrk-token.lua "$MOCK_URL"
echo "== 404 path (routing and HTTP only)"
wrk -t2 -c100 -d"${seconds}s" "$MOCK_URL/nothing"
