"""The cached token without a call into the library: behaviour, not timing.

``Client.token()`` and ``access_token`` serve the token held while the
library's serial word names it and its deadline has not passed. Whatever
changes the library's token (an invalidation from any thread or through the
C handle itself, a background refresh, a fork) must be seen by the next call.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import threading
import time
from typing import Any, List

import pytest

from sigma_auth import Client, Config, _native

SECRET = "demo-secret"


def client_for(mock: Any, **options: Any) -> Client:
    return Client(Config(mock.url, "demo-client", SECRET, **options))


def test_after_an_invalidation_the_next_call_in_every_thread_gets_the_new_token(mock: Any) -> None:
    client = client_for(mock)
    first = client.token()
    threads = 8
    invalidated = threading.Barrier(threads + 1)
    seen: List[int] = []

    def work() -> None:
        for _ in range(2000):
            assert client.token().serial == first.serial
        invalidated.wait()
        seen.append(client.token().serial)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.05)
    client.invalidate(first)
    invalidated.wait()
    for worker in workers:
        worker.join()
    assert len(seen) == threads and first.serial not in seen
    assert len(set(seen)) == 1, "one new token, shared"
    assert mock.token_requests() == 2
    client.close()


def test_an_invalidation_made_in_c_directly_is_seen_by_the_next_call(mock: Any) -> None:
    client = client_for(mock)
    first = client.token()
    assert client.access_token == first.access_token
    # Another handle on the same C client (a C extension, say) invalidates it.
    with client._borrow() as pointer:
        _native.lib.sigma_client_invalidate(pointer, first.access_token.encode())
    assert client.access_token != first.access_token
    assert client.token().serial > first.serial
    client.close()


def test_after_a_background_refresh_the_next_call_sees_the_new_token(start_mock: Any) -> None:
    mock = start_mock("--expires-in", "4")
    client = client_for(mock, refresh_margin=3)
    first = client.token()
    started = time.monotonic()
    while client.token().serial == first.serial:
        assert time.monotonic() - started < 4, "the background refresh never replaced the token"
    assert mock.token_requests() == 2
    assert client.stats().background_refreshes == 1
    client.close()


def test_no_token_is_served_past_its_end_of_use(start_mock: Any) -> None:
    # A 2 s token whose refreshes all fail: served until shortly before its
    # expiry (the library's margin is a tenth of a short lifetime), then not.
    mock = start_mock("--expires-in", "2")
    client = client_for(mock, max_attempts=1, timeout=1)
    token = client.token()
    obtained = time.monotonic()
    mock.faults(*[{"kind": "status", "status": 503}] * 2000)
    last_served = obtained
    while time.monotonic() - obtained < 2.5:
        try:
            if client.token().serial == token.serial:
                last_served = time.monotonic()
        except Exception:
            time.sleep(0.01)
    assert last_served - obtained < 2.0, "served after it expired"
    client.close()


def test_tokens_served_counts_every_call(mock: Any) -> None:
    client = client_for(mock)
    for _ in range(500):
        client.token()
    for _ in range(250):
        assert client.access_token
    assert client.stats().tokens_served == 750
    client.close()


def test_a_closed_client_serves_nothing(mock: Any) -> None:
    client = client_for(mock)
    client.token()
    client.close()
    with pytest.raises(ValueError, match="closed"):
        client.token()
    with pytest.raises(ValueError, match="closed"):
        client.access_token


def _in_child(client: Client, inherited: int, out: Any) -> None:
    kept = client.token().serial  # the token the parent held, still good
    client.invalidate(client.token())
    out.send((kept == inherited, client.token().serial != inherited))


def test_a_forked_child_keeps_the_token_then_gets_its_own(mock: Any) -> None:
    client = client_for(mock)
    token = client.token()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_in_child, args=(client, token.serial, send))
    child.start()
    kept, renewed = receive.recv()
    child.join(30)
    assert child.exitcode == 0 and kept and renewed
    assert client.token().serial == token.serial, "the parent's token is untouched by its child"
    client.close()


def test_the_serial_word_is_what_the_library_says(mock: Any) -> None:
    client = client_for(mock)
    token = client.token()
    with client._borrow() as pointer:
        word = _native.lib.sigma_client_serial_word(pointer)
        assert ctypes.cast(word, ctypes.c_void_p).value
        assert word.contents.value == token.serial
        assert _native.lib.sigma_client_fresh_until(pointer, token.serial) > _native.lib.sigma_monotonic_ns()
    assert abs(_native.lib.sigma_monotonic_ns() - time.monotonic_ns()) < 1_000_000_000
    client.close()


def test_a_child_forked_in_c_never_serves_an_expired_token(start_mock: Any) -> None:
    # uWSGI (without py-call-osafterfork) and C extensions fork without running
    # Python's fork hooks: the client keeps its held token, and only the
    # library's own fork handler can tell the child its words are stale.
    mock = start_mock("--expires-in", "4")
    client = client_for(mock)
    inherited = client.token()
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.fork()
    if pid == 0:  # the child: no pytest from here on, only an exit status
        code = 1
        try:
            started = time.monotonic()
            served = []
            while time.monotonic() - started < 5:
                served.append((time.monotonic() - started, client.token().serial))
                time.sleep(0.01)
            # The inherited token (4 s) is never served after its end of use,
            # and the child got tokens of its own.
            late = [serial for at, serial in served if at > 3.5 and serial == inherited.serial]
            code = 0 if not late and served[-1][1] != inherited.serial else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    client.close()
