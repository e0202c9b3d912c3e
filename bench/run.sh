#!/usr/bin/env bash
# `make bench`: every benchmark suite, side by side with the libraries people use
# today, against sigma-mock on loopback; then docs/BENCHMARKS.md and its plots.
# `make bench-quick` (bench/run.sh --quick) runs small versions of every suite in
# about a minute and writes the report under build/bench/ instead: a smoke test
# that keeps the suite from rotting, asserting no times.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
export PROFILE=release
out=build/bench
mkdir -p "$out" build/release
results="$out/results.jsonl"
: >"$results"
record() { tee -a "$results"; }
named() { sed "s|^{|{\"name\":\"$1\",|"; } # labels a result line (names may hold /, never |)

if [ $quick = 1 ]; then
  cached_calls=20000; refresh_secs=7; refresh_life=8; fresh_tokens=200; startup_runs=10; wrk_secs=2
else
  cached_calls=1000000; refresh_secs=14; refresh_life=20; fresh_tokens=3000; startup_runs=50; wrk_secs=10
fi

echo "== build (release)"
cargo build -q --locked --release --workspace
make -s PROFILE=release examples
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/c/bench.c target/release/libsigma_auth.a \
  $(cat native-static-libs.txt) -o build/release/bench_c
(cd bench/go && go build -o ../../build/release/bench_go .)
# The Node.js package's release module (bench/node/bench.mjs), and simple-oauth2 beside it.
(cd bindings/node && { [ -d node_modules/simple-oauth2 ] || npm ci --no-audit --no-fund --loglevel=error; } &&
  npm run -s build:release >/dev/null)
venv="$out/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q ./bindings/python requests authlib matplotlib
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
. scripts/mock.sh

echo "== 1. cached token access"
start_mock
for mode in current cached; do
  for threads in 1 2 8 64; do build/release/bench_c $mode "$MOCK_URL" "$threads" "$cached_calls" | record; done
done
cargo bench -q --locked --bench cached -- "$MOCK_URL" "$cached_calls" | record
"$venv/bin/python" bench/python/bench.py cached "$MOCK_URL" $((cached_calls / 5)) | record
for impl in sigma oauth2; do
  for g in 1 2 8 64; do build/release/bench_go -mode cached -impl $impl -url "$MOCK_URL" -goroutines $g -calls "$cached_calls" | record; done
done
node bench/node/bench.mjs cached "$MOCK_URL" "$cached_calls" | record

stop_mock

echo "== 2. refresh under load (the refresh request is held 2 s by the mock)"
refresh_run() { # name, then the command; the mock is fresh for each
  local name=$1; shift
  start_mock --expires-in "$refresh_life"
  curl -s -X POST "$MOCK_URL/__mock/faults" -d '[{"kind":"delay","ms":0},{"kind":"delay","ms":2000}]' >/dev/null
  "$@" "$MOCK_URL" | named "$name" | record
  local requests
  requests=$(curl -s "$MOCK_URL/__mock/stats" | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])')
  echo "{\"suite\":\"refresh_upstream\",\"name\":\"$name\",\"requests_after_first\":$((requests - 1))}" | record
  stop_mock
}
c_refresh() { build/release/bench_c refresh "$1" 64 "$refresh_secs"; }
go_refresh() { build/release/bench_go -mode refresh -impl "$GO_IMPL" -goroutines 1000 -seconds "$refresh_secs" -url "$1"; }
py_refresh() { "$venv/bin/python" bench/python/bench.py refresh "$1" 32 "$refresh_secs"; }
refresh_run "sigma-auth C, 64 threads" c_refresh
GO_IMPL=sigma refresh_run "sigmaauth Go, 1000 goroutines" go_refresh
refresh_run "sigma_auth Python, 32 threads" py_refresh
if [ $quick = 0 ]; then
  # x/oauth2 treats a token as expired 10 s early, as our 20 s tokens enter their window.
  GO_IMPL=oauth2 refresh_run "x/oauth2 Go, 1000 goroutines" go_refresh
fi
# Controls: the same C loop with one thread per core during the refresh; the same
# 64- and 2-thread loops with no refresh at all (tokens live an hour); and the loops
# around no call, which show how long this machine itself keeps a caller waiting.
c_refresh_2() { build/release/bench_c refresh "$1" 2 "$refresh_secs"; }
refresh_run "sigma-auth C, 2 threads" c_refresh_2
start_mock
build/release/bench_c refresh "$MOCK_URL" 64 "$refresh_secs" | named "control: sigma-auth C, 64 threads, no refresh" | record
build/release/bench_c refresh "$MOCK_URL" 2 "$refresh_secs" | named "control: sigma-auth C, 2 threads, no refresh" | record
build/release/bench_c refresh "$MOCK_URL" 64 "$refresh_secs" baseline | named "baseline: no call, C, 64 threads" | record
build/release/bench_go -mode refresh -impl baseline -goroutines 1000 -seconds "$refresh_secs" -url "$MOCK_URL" |
  named "baseline: no call, Go, 1000 goroutines" | record
stop_mock

echo "== 3. fresh tokens over keep-alive"
start_mock
# Loopback round trips on a small VM drift between fast and slow phases
# (measured: ~25 µs and ~105 µs per request for minutes at a time), so the
# implementations take turns, round after round, and the report keeps each
# one's median round: a phase change then weighs on all of them alike.
for round in 1 2 3; do
  build/release/bench_c fresh "$MOCK_URL" "$fresh_tokens" | record
  build/release/bench_c fresh-client "$MOCK_URL" "$fresh_tokens" | record
  build/release/bench_go -mode fresh -impl oauth2 -url "$MOCK_URL" -tokens "$fresh_tokens" | record
  build/release/bench_go -mode fresh -impl sigma -url "$MOCK_URL" -tokens "$fresh_tokens" | record
  build/release/bench_go -mode fresh -impl sigma-client -url "$MOCK_URL" -tokens "$fresh_tokens" | record
  "$venv/bin/python" bench/python/bench.py fresh "$MOCK_URL" "$fresh_tokens" | record
  node bench/node/bench.mjs fresh "$MOCK_URL" "$fresh_tokens" | record
done
# Threads the library starts, and writes it makes, per 1,000 fetches over a
# kept-alive connection (goals: no thread; one write per request).
command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace; }
for mode in fresh fresh-client; do
  strace -f -qq -c -e trace=clone,clone3,sendto,write,writev -o "$out/strace-$mode.txt" \
    build/release/bench_c $mode "$MOCK_URL" 1000 >/dev/null
  clones=$(awk '$NF ~ /^clone3?$/ {n += $4} END {print n + 0}' "$out/strace-$mode.txt")
  writes=$(awk '$NF ~ /^(sendto|writev)$/ {n += $4} END {print n + 0}' "$out/strace-$mode.txt")
  echo "{\"suite\":\"threads\",\"name\":\"bench_c $mode, 1000 fetches\",\"thread_creations\":$clones,\"socket_writes\":$writes}" | record
done

echo "== 4. footprint and start-up"
"$venv/bin/python" bench/python/footprint.py "$MOCK_URL" "$startup_runs" | record

# What ships (from make dist, when dist/ exists): sizes users download and link.
if [ -d dist/go/lib ]; then
  for f in dist/python/*.whl dist/go/lib/*/libsigma_auth.a; do
    echo "{\"suite\":\"shipped\",\"what\":\"$(basename "$(dirname "$f")")/$(basename "$f")\",\"bytes\":$(stat -c %s "$f")}" | record
  done
  so=$(ls build/dist/sigma-auth-*-x86_64-linux-gnu/lib/libsigma_auth.so.*.*.* | head -1)
  echo "{\"suite\":\"shipped\",\"what\":\"$(basename "$so") (x86_64, stripped)\",\"bytes\":$(stat -c %s "$so")}" | record
  hello=$(mktemp -d)
  sed 's|github.com/sigma-auth/sigma-auth/bindings/go|github.com/sigma-auth/sigma-auth-go|' examples/go/main.go >"$hello/main.go"
  (cd "$hello" && go mod init hello >/dev/null 2>&1 &&
    go mod edit -require github.com/sigma-auth/sigma-auth-go@v0.0.0 -replace "github.com/sigma-auth/sigma-auth-go=$OLDPWD/dist/go" &&
    GOFLAGS=-mod=mod go build -ldflags=-s -o hello .) >/dev/null
  echo "{\"suite\":\"shipped\",\"what\":\"a Go program getting a token (linux/amd64, -ldflags=-s)\",\"bytes\":$(stat -c %s "$hello/hello")}" | record
  rm -rf "$hello"
fi

echo "== 4b. a cold process with a warm token store shared by hosts"
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
redis_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --loglevel warning >/dev/null &
redis_pid=$!
MOCK_PIDS="${MOCK_PIDS:-} $redis_pid" # stopped with the mocks if the script ends early
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done
ceiling_url=$MOCK_URL
start_mock
instant_url=$MOCK_URL instant_pid=$MOCK_PID
start_mock --token-delay-ms 100
"$venv/bin/python" bench/python/store_cold.py "$instant_url" "$MOCK_URL" 100 "redis://127.0.0.1:$redis_port/0" "$startup_runs" | record
kill "$instant_pid" "$MOCK_PID" "$redis_pid" 2>/dev/null || true
MOCK_URL=$ceiling_url

echo "== 5. the mock's own ceiling"
rps=$(wrk -t2 -c100 -d"${wrk_secs}s" -s bench/wrk-token.lua "$MOCK_URL" | awk '/Requests\/sec/ {print $2}')
echo "{\"suite\":\"mock\",\"requests_per_sec\":$rps}" | record

report_dir=docs
[ $quick = 1 ] && report_dir="$out/report"
"$venv/bin/python" bench/report.py "$results" "$report_dir" $([ $quick = 1 ] && echo --quick)
echo "report: $report_dir/BENCHMARKS.md"
