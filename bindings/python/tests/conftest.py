"""Starts a fresh sigma-mock per test, on loopback, as a real child process."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[3]


def mock_binary() -> str:
    override = os.environ.get("SIGMA_MOCK_BIN")
    if override:
        return override
    for profile in ("debug", "release"):
        candidate = ROOT / "target" / profile / "sigma-mock"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("sigma-mock not built: run `cargo build -p sigma-mock` or set SIGMA_MOCK_BIN")


class Mock:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [mock_binary(), "--exit-with-stdin", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().decode().strip()
        assert self.url.startswith("http"), "sigma-mock printed no URL"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.url + path, data=data if method == "POST" else None, method=method)
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def faults(self, *faults: dict[str, Any]) -> None:
        self._call("POST", "/__mock/faults", list(faults))

    def stats(self) -> Any:
        return self._call("GET", "/__mock/stats")

    def token_requests(self) -> int:
        return int(self.stats()["token_requests"])

    def expire(self, refresh: bool = False) -> None:
        self._call("POST", "/__mock/expire?refresh=1" if refresh else "/__mock/expire")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def start_mock() -> Iterator[Any]:
    started: List[Mock] = []

    def start(*args: str) -> Mock:
        mock = Mock(*args)
        started.append(mock)
        return mock

    yield start
    for mock in started:
        mock.stop()


@pytest.fixture
def mock(start_mock: Any) -> Mock:
    return start_mock()  # type: ignore[no-any-return]


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real redis-server (Debian's package) on loopback, for the token store."""
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    server.kill()
    server.wait()
