"""Python benchmarks against sigma-mock: sigma_auth, requests.Session (Sigma's
sample code), and authlib's OAuth2 client. Prints one JSON object per line.

    python bench.py cached  URL [calls]
    python bench.py refresh URL THREADS SECONDS
    python bench.py fresh   URL TOKENS
Timing only; no assertions.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Callable

import requests
from authlib.integrations.requests_client import OAuth2Session

import sigma_auth

ID, SECRET = "demo-client", "demo-secret"


def emit(**fields: Any) -> None:
    print(json.dumps({"lang": "python", **fields}), flush=True)


def per_call(fn: Callable[[], object], calls: int) -> float:
    """The best of five rounds, as timeit does: the least disturbed by the rest
    of the machine."""
    fn()
    rounds = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(calls // 5):
            fn()
        rounds.append((time.perf_counter_ns() - start) / (calls // 5))
    return min(rounds)


def authlib_session(url: str) -> OAuth2Session:
    session = OAuth2Session(ID, SECRET, token_endpoint=f"{url}/v2/auth/token",
                            token_endpoint_auth_method="client_secret_post", grant_type="client_credentials")
    session.fetch_token()
    return session


def threaded(fn: Callable[[], object], threads: int, calls: int) -> float:
    """Wall time per call as each of `threads` threads sees it, all looping on
    `fn` at once (under the GIL, threads take turns: this includes the wait)."""
    barrier = threading.Barrier(threads + 1)
    per_thread = max(calls // threads, 1000)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            fn()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter_ns()
    for w in workers:
        w.join()
    return (time.perf_counter_ns() - start) / per_thread


def cached(url: str, calls: int) -> None:
    """The same loops for sigma_auth and authlib, at 1, 2, 8 and 64 threads."""
    client = sigma_auth.Client(sigma_auth.Config(url, ID, SECRET))
    session = authlib_session(url)

    def authlib_token() -> object:
        # With a valid token this only reads the session (no refresh runs), so
        # threads share it without a lock here.
        return session.ensure_active_token(session.token) and session.token["access_token"]

    for impl, fn in (("sigma_auth Client.access_token", lambda: client.access_token),
                     ("authlib OAuth2Session ensure_active_token", authlib_token)):
        emit(suite="cached", impl=impl, threads=1, ns_per_call=per_call(fn, calls))
        for threads in (2, 8, 64):
            emit(suite="cached", impl=impl, threads=threads, ns_per_call=threaded(fn, threads, calls))
    client.close()


def refresh(url: str, threads: int, seconds: float) -> None:
    with sigma_auth.Client(sigma_auth.Config(url, ID, SECRET)) as client:
        first = client.access_token
        until = time.monotonic() + seconds
        samples: list[list[int]] = [[] for _ in range(threads)]

        def work(mine: list[int]) -> None:
            while time.monotonic() < until:
                start = time.perf_counter_ns()
                client.access_token
                mine.append(time.perf_counter_ns() - start)
                time.sleep(0.001)

        workers = [threading.Thread(target=work, args=(s,)) for s in samples]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        waits = sorted(x for s in samples for x in s)
        emit(suite="refresh", impl="sigma_auth", threads=threads, calls=len(waits), p50_ns=pct(waits, 0.5),
             p99_ns=pct(waits, 0.99), p999_ns=pct(waits, 0.999), max_ns=waits[-1],
             token_changed=client.access_token != first)


def fresh(url: str, tokens: int) -> None:
    config = sigma_auth.Config(url, ID, SECRET)
    session = requests.Session()
    form = {"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET}

    def sample() -> None:
        response = session.post(f"{url}/v2/auth/token", data=form, timeout=30)
        response.raise_for_status()
        response.json()["access_token"]

    oauth = authlib_session(url)
    for name, fn in (("sigma_auth.get_token (Python)", lambda: sigma_auth.get_token(config)),
                     ("requests.Session POST (Python, Sigma's sample)", sample),
                     ("authlib OAuth2Session.fetch_token (Python)", lambda: oauth.fetch_token())):
        fn()
        waits = []
        start = time.perf_counter_ns()
        for _ in range(tokens):
            t0 = time.perf_counter_ns()
            fn()
            waits.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter_ns() - start
        waits.sort()
        emit(suite="fresh", name=name, tokens=tokens, tokens_per_sec=tokens / (elapsed / 1e9),
             p50_ns=pct(waits, 0.5), p99_ns=pct(waits, 0.99))


def pct(values: list[int], p: float) -> int:
    return values[int(p * (len(values) - 1))] if values else 0


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "cached":
        cached(url, int(rest[0]) if rest else 200_000)
    elif mode == "refresh":
        refresh(url, int(rest[0]), float(rest[1]))
    elif mode == "fresh":
        fresh(url, int(rest[0]))
    else:
        sys.exit(f"unknown mode {mode}")
