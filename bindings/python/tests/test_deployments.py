"""The client as real deployments use it: forked workers (os.fork, a
multiprocessing pool, gunicorn --preload) and many threads racing on one client."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import sigma_auth
from sigma_auth import Client, Config

SECRET = "demo-secret"


def client_for(mock: Any) -> Client:
    return Client(Config(mock.url, "demo-client", SECRET))


def wait_for_requests(mock: Any, count: int) -> None:
    deadline = time.monotonic() + 10
    while mock.token_requests() < count:
        assert time.monotonic() < deadline, "the request never reached the mock"
        time.sleep(0.01)


def in_child(body: Callable[[], bool], alarm: int = 8) -> int:
    """Runs ``body`` in a forked child under an alarm; its exit code, or 128 + signal."""
    pid = os.fork()
    if pid == 0:
        signal.alarm(alarm)
        try:
            os._exit(0 if body() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def test_a_child_forked_during_a_foreground_request_gets_its_own_token(mock: Any) -> None:
    mock.faults({"kind": "delay", "ms": 2000})
    client = client_for(mock)
    parent = ThreadPoolExecutor(1).submit(lambda: client.access_token)
    wait_for_requests(mock, 1)
    assert in_child(lambda: client.access_token.startswith("mock_at_")) == 0
    assert parent.result().startswith("mock_at_")


def test_a_child_forked_during_a_background_refresh_refreshes_on_its_own(start_mock: Any) -> None:
    mock = start_mock("--expires-in", "2")
    client = client_for(mock)
    inherited = client.access_token
    time.sleep(1.1)
    mock.faults({"kind": "delay", "ms": 4000})
    assert client.access_token == inherited  # due: starts the background refresh
    wait_for_requests(mock, 2)

    def child() -> bool:
        if client.access_token != inherited:
            return False
        time.sleep(0.75)  # the inherited token is no longer usable; the new one not yet due
        return client.access_token not in ("", inherited)

    assert in_child(child) == 0
    stats = mock.stats()
    # The child's first fetch used client credentials, not the parent's refresh
    # token (which the parent was spending): no refresh was refused.
    assert stats["by_grant"]["client_credentials"] == 2, stats
    assert set(stats["by_status"]) == {"200"}, stats


_pool_client: Optional[Client] = None


def _pool_task(_: int) -> tuple[int, str]:
    assert _pool_client is not None
    time.sleep(0.05)
    return os.getpid(), _pool_client.access_token


def test_a_multiprocessing_fork_pool_gets_tokens_in_every_worker(start_mock: Any) -> None:
    global _pool_client
    mock = start_mock("--expires-in", "2")
    _pool_client = client_for(mock)
    _pool_client.token()
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_pool_task, range(80), chunksize=1)  # about 1 s, past a refresh
    assert len({pid for pid, _ in results}) == 4
    assert all(token.startswith("mock_at_") for _, token in results)
    stats = mock.stats()
    assert set(stats["by_status"]) == {"200"}, stats
    _pool_client.close()
    _pool_client = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_preload_workers_share_nothing_they_should_not(start_mock: Any) -> None:
    pytest.importorskip("gunicorn")
    workers, lifetime, run_for = 4, 6, 20.0
    mock = start_mock("--expires-in", str(lifetime))
    port = free_port()
    env = dict(os.environ, SIGMA_BASE_URL=mock.url, SIGMA_CLIENT_ID="demo-client", SIGMA_CLIENT_SECRET=SECRET)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--preload", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--chdir", str(Path(__file__).parent / "apps"), "--log-level", "warning", "preloaded:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.1)
        failures: list[str] = []
        pids: set[str] = set()

        def hammer() -> None:
            until = time.monotonic() + run_for
            while time.monotonic() < until:
                try:
                    body = urllib.request.urlopen(url, timeout=10).read().decode()
                    pids.add(body.split()[0])
                except Exception as error:
                    failures.append(repr(error))

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert not failures, failures[:5]
    assert len(pids) == workers
    stats = mock.stats()
    assert set(stats["by_status"]) == {"200"}, f"the mock saw requests it refused or could not parse: {stats}"
    assert set(stats["whoami_by_status"]) == {"200"}, stats
    # A token is due 2.7 to 3 s after it was requested: in any 2.5 s at most one
    # refresh per worker, and never one worker spending another's refresh token.
    times = [r["at_ms"] for r in stats["recent_token_requests"]]
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t - start < 2500) <= workers, times
    assert stats["by_grant"].get("refresh_token", 0) + stats["by_grant"]["client_credentials"] == len(times)


def test_racing_takes_and_invalidations_never_return_an_older_token(mock: Any) -> None:
    client = client_for(mock)
    errors: list[str] = []

    def race(index: int) -> None:
        last = 0
        try:
            for i in range(400):
                token = client.token()
                if token.serial < last or not token.access_token.startswith("mock_at_"):
                    errors.append(f"thread {index}: serial {token.serial} after {last}")
                last = token.serial
                if i % 40 == index % 40:
                    client.invalidate(token.access_token)
        except BaseException as error:  # a thread's exception would otherwise vanish
            errors.append(f"thread {index}: {error!r}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert mock.token_requests() >= 8, "the invalidations did cause new tokens"
    client.close()
