"""Footprint and start-up figures: library sizes, the peak RSS of a C program
that gets one token, and process-start-to-token time for it and for curl.
Prints one JSON object per line. Usage: footprint.py URL RUNS"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

url, runs = sys.argv[1], int(sys.argv[2])
release = "target/release"
env = dict(os.environ, SIGMA_BASE_URL=url, SIGMA_CLIENT_ID="demo-client", SIGMA_CLIENT_SECRET="demo-secret")

with tempfile.TemporaryDirectory() as tmp:
    stripped = os.path.join(tmp, "libsigma_auth.so")
    shutil.copyfile(f"{release}/libsigma_auth.so", stripped)
    subprocess.run(["strip", stripped], check=True)
    print(json.dumps({"suite": "footprint", "what": "cdylib_stripped_bytes", "value": os.path.getsize(stripped)}))
print(json.dumps({"suite": "footprint", "what": "staticlib_bytes", "value": os.path.getsize(f"{release}/libsigma_auth.a")}))
example = "build/release/get_token"
size = os.path.getsize(example)
print(json.dumps({"suite": "footprint", "what": "c_example_bytes", "value": size}))

# Peak RSS as the process itself sees it (VmHWM), so the forking parent's memory
# does not count: getrusage's ru_maxrss keeps the pre-exec high-water mark.
subprocess.run(["build/release/bench_c", "one", url], check=True)

form = ["-d", "grant_type=client_credentials", "-d", "client_id=demo-client", "-d", "client_secret=demo-secret"]
commands = {
    "C example (static sigma-auth), start to token": [example],
    "curl, start to token": ["curl", "-s", "-o", "/dev/null", "-X", "POST", f"{url}/v2/auth/token", *form],
}
for name, command in commands.items():
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter_ns() - start)
    print(json.dumps({"suite": "startup", "name": name, "runs": runs, "median_ns": statistics.median(times),
                      "p99_ns": sorted(times)[int(0.99 * (runs - 1))]}))

# curl per token, as shell scripts do: one process per token.
start = time.perf_counter_ns()
waits = []
for _ in range(runs):
    t0 = time.perf_counter_ns()
    subprocess.run(commands["curl, start to token"], check=True, stdout=subprocess.DEVNULL)
    waits.append(time.perf_counter_ns() - t0)
elapsed = time.perf_counter_ns() - start
waits.sort()
print(json.dumps({"suite": "fresh", "lang": "shell", "name": "curl, one process per token", "tokens": runs,
                  "tokens_per_sec": runs / (elapsed / 1e9), "p50_ns": waits[len(waits) // 2],
                  "p99_ns": waits[int(0.99 * (len(waits) - 1))]}))
