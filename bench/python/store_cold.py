"""A cold process's time to its first token: `sigma-token --no-cache` started
anew each run, with a warm token store shared by hosts (Redis on loopback)
against a token fetch. Sigma answers a token request in tens to hundreds of
milliseconds over the Internet; the mock on loopback answers at once, so both
are measured: the mock as is, and holding each answer back (--token-delay-ms).
Prints one JSON object per line. Usage: store_cold.py MOCK_URL DELAYED_MOCK_URL DELAY_MS REDIS_URL RUNS"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

url, delayed_url, delay_ms, store, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
command = ["target/release/sigma-token", "--no-cache"]


def timed(base_url: str, with_store: bool) -> list[int]:
    env = dict(os.environ, SIGMA_BASE_URL=base_url, SIGMA_CLIENT_ID="demo-client", SIGMA_CLIENT_SECRET="demo-secret")
    env.pop("SIGMA_TOKEN_STORE", None)
    if with_store:
        env["SIGMA_TOKEN_STORE"] = store
        # Warm: one process fetches and stores the token.
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter_ns() - start)
    return times


for base_url, answer in [(url, "at once"), (delayed_url, f"after {delay_ms} ms")]:
    for with_store, how in [(True, "from a warm token store (Redis on loopback)"), (False, "fetched")]:
        times = sorted(timed(base_url, with_store))
        print(json.dumps({"suite": "store_cold", "name": f"sigma-token start to token, {how}; the mock answers {answer}",
                          "runs": runs, "median_ns": statistics.median(times),
                          "p99_ns": times[int(0.99 * (runs - 1))]}))
