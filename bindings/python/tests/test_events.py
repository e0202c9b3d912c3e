"""Events and counters: the ``sigma_auth`` logger, ``on_event`` and ``Client.stats()``."""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys
import threading
import time
from typing import Any, List

import pytest

import sigma_auth
from sigma_auth import Client, Config, Event, Status

SECRET = "demo-secret"


def recorder() -> tuple[List[Event], Any]:
    seen: List[Event] = []
    lock = threading.Lock()

    def on_event(event: Event) -> None:
        with lock:
            seen.append(event)

    return seen, on_event


def test_a_first_token_then_a_cached_one(mock: Any) -> None:
    seen, on_event = recorder()
    client = Client(Config(mock.url, "demo-client", SECRET, on_event=on_event))
    token = client.token()
    client.token()
    assert [e.kind for e in seen] == ["REFRESH_STARTED", "TOKEN_OBTAINED"]
    obtained = seen[1]
    assert (obtained.grant, obtained.serial, obtained.expires_in, obtained.background) == (
        "client_credentials", token.serial, 3600, False)
    assert obtained.duration is not None and 0 < obtained.duration < 5
    stats = client.stats()
    assert (stats.tokens_served, stats.client_credentials_ok, stats.client_credentials_failed) == (2, 1, 0)
    assert stats.last_success_unix_ms > 0 and stats.last_failure_unix_ms == 0
    client.close()


def test_retries_fallback_and_failure_reach_the_logger_as_warnings(
    mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sigma_auth")
    client = Client(Config(mock.url, "demo-client", SECRET, max_attempts=2))
    first = client.token()
    mock.faults({"kind": "status", "status": 503})
    mock.expire(refresh=True)  # the refresh token is refused next: fall back to client credentials
    client.invalidate(first.access_token)
    client.token()
    mock.faults({"kind": "status", "status": 401, "message": "bad"}, {"kind": "status", "status": 401})
    client.invalidate(client.token().access_token)
    with pytest.raises(sigma_auth.InvalidClient):
        client.token()
    records = [r for r in caplog.records if r.name == "sigma_auth"]
    kinds = [r.sigma_event.kind for r in records]  # type: ignore[attr-defined]
    assert kinds == [
        "REFRESH_STARTED", "TOKEN_OBTAINED", "INVALIDATED",
        "REFRESH_STARTED", "RETRY_SCHEDULED", "FALLBACK_TO_CLIENT_CREDENTIALS", "TOKEN_OBTAINED",
        "INVALIDATED", "REFRESH_STARTED", "FALLBACK_TO_CLIENT_CREDENTIALS", "REFRESH_FAILED",
    ]
    levels = {r.sigma_event.kind: r.levelno for r in records}  # type: ignore[attr-defined]
    assert levels["TOKEN_OBTAINED"] == logging.DEBUG
    assert levels["RETRY_SCHEDULED"] == levels["REFRESH_FAILED"] == logging.WARNING
    retry = next(r.sigma_event for r in records if r.sigma_event.kind == "RETRY_SCHEDULED")  # type: ignore[attr-defined]
    assert (retry.http_status, retry.attempt, retry.grant) == (503, 1, "refresh_token")
    assert retry.wait is not None and retry.request_id
    assert "RETRY_SCHEDULED" in caplog.text and "http_status=503" in caplog.text
    failed = next(r.sigma_event for r in records if r.sigma_event.kind == "REFRESH_FAILED")  # type: ignore[attr-defined]
    assert failed.status is Status.INVALID_CLIENT and failed.http_status == 401
    stats = client.stats()
    assert (stats.retries, stats.invalidations, stats.client_credentials_failed) == (1, 2, 1)
    client.close()


def test_no_secret_or_token_in_events_or_log_lines(mock: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sigma_auth")
    seen, on_event = recorder()
    cfg = Config(mock.url, "demo-client", SECRET, on_event=on_event, max_attempts=1)
    client = Client(cfg)
    token = client.token()
    assert token.refresh_token is not None
    echo = {"kind": "status", "status": 401, "message": f"echo {SECRET} {token.access_token} {token.refresh_token}"}
    mock.faults(echo, echo)  # the refresh token, then client credentials
    client.invalidate(token.access_token)
    with pytest.raises(sigma_auth.SigmaAuthError):
        client.token()
    texts = [caplog.text] + [repr(e) for e in seen] + [str(e) for e in seen]
    for text in texts:
        for hidden in (SECRET, token.access_token, token.refresh_token):
            assert hidden not in text
    assert any(e.message and "[redacted]" in e.message for e in seen)
    client.close()


def test_a_handler_may_call_back_in_and_a_broken_one_loses_only_its_event(mock: Any) -> None:
    inner: List[str] = []
    other = Config(mock.url, "demo-client", SECRET)

    def on_event(event: Event) -> None:
        if event.kind == "TOKEN_OBTAINED":
            inner.append(sigma_auth.get_token(other).access_token)  # calls the library from the callback
        raise RuntimeError("a broken handler")

    client = Client(Config(mock.url, "demo-client", SECRET, on_event=on_event))
    assert client.token().access_token
    assert len(inner) == 1 and inner[0]
    assert client.token().access_token  # still works after the handler raised
    client.close()


def test_background_refresh_events_come_from_another_thread(start_mock: Any) -> None:
    mock = start_mock("--expires-in", "4")
    seen, on_event = recorder()
    threads: List[str] = []

    def remember(event: Event) -> None:
        threads.append(threading.current_thread().name)
        on_event(event)

    client = Client(Config(mock.url, "demo-client", SECRET, on_event=remember, refresh_margin=3))
    first = client.token()
    deadline = threading.Event()
    for _ in range(40):
        if any(e.background and e.kind == "TOKEN_OBTAINED" for e in seen):
            break
        client.token()
        deadline.wait(0.1)
    background = [e for e in seen if e.background]
    assert [e.kind for e in background][:2] == ["REFRESH_STARTED", "TOKEN_OBTAINED"]
    assert background[1].serial != first.serial
    assert threading.main_thread().name in threads and len(set(threads)) == 2
    assert client.stats().background_refreshes >= 1
    client.close()


def test_on_event_must_be_callable(mock: Any) -> None:
    with pytest.raises(TypeError):
        Config(mock.url, "demo-client", SECRET, on_event="print")  # type: ignore[arg-type]


def test_stats_after_close_raise(mock: Any) -> None:
    client = Client(Config(mock.url, "demo-client", SECRET))
    client.close()
    with pytest.raises(ValueError, match="closed"):
        client.stats()


SHUTDOWN_SCRIPT = """
import ctypes, sys, time, sigma_auth
# After the interpreter is finalized, C's exit() runs this: it blocks reading
# stdin, keeping the process alive (with Python gone) until the test closes it.
libc = ctypes.CDLL(None)
libc.__cxa_atexit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
libc.__cxa_atexit(ctypes.cast(libc.getchar, ctypes.c_void_p), None, None)
seen = []
client = sigma_auth.Client(sigma_auth.Config(sys.argv[1], "demo-client", "demo-secret", refresh_margin=3,
                                             on_event=lambda event: seen.append(event.kind)))
client.token()
time.sleep(1.5)  # the token (4 s) is now inside its refresh margin
client.token()  # starts the background refresh, which the mock holds 500 ms
print(",".join(seen), flush=True)
# ... and the interpreter is finalized while that refresh is in flight
"""


def test_events_arriving_after_interpreter_shutdown_do_not_crash(start_mock: Any) -> None:
    mock = start_mock("--expires-in", "4", "--token-delay-ms", "500")
    before = mock.token_requests()
    process = subprocess.Popen([sys.executable, "-c", SHUTDOWN_SCRIPT, mock.url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline().decode().strip() == "REFRESH_STARTED,TOKEN_OBTAINED"
    time.sleep(1.5)  # the refresh settles, and its events are sent, with Python finalized
    assert process.poll() is None  # still alive, in the atexit hook
    assert mock.token_requests() == before + 2  # the background refresh did run
    process.stdin.close()
    assert process.wait(30) == 0, process.stderr.read().decode() if process.stderr else ""


def _child_events(client: Client, seen: List[Event], stale_serial: int, out: Any) -> None:
    seen.clear()
    client.invalidate(client.token())
    token = client.token()
    out.send(([e.kind for e in seen], token.serial != stale_serial, client.stats().invalidations))


def test_events_reach_the_handler_in_a_forked_child(mock: Any) -> None:
    seen, on_event = recorder()
    client = Client(Config(mock.url, "demo-client", SECRET, on_event=on_event))
    token = client.token()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_events, args=(client, seen, token.serial, send))
    child.start()
    kinds, renewed, invalidations = receive.recv()
    child.join(30)
    assert child.exitcode == 0
    assert kinds == ["INVALIDATED", "REFRESH_STARTED", "TOKEN_OBTAINED"] and renewed and invalidations == 1
    assert [e.kind for e in seen] == ["REFRESH_STARTED", "TOKEN_OBTAINED"]  # the parent's own, untouched
    client.close()


LATE_SCRIPT = """
import atexit, sys
calls = []

def late():  # registered first, so it runs after sigma_auth's own exit handler
    import sigma_auth
    client = sigma_auth.Client(sigma_auth.Config(sys.argv[1], "demo-client", "demo-secret",
                                                 on_event=lambda event: calls.append(event.kind)))
    client.token()
    print("late events:", len(calls), flush=True)

atexit.register(late)
import sigma_auth  # noqa: E402  (its exit handler runs before late())
"""


def test_a_config_made_during_shutdown_sends_no_events(mock: Any) -> None:
    done = subprocess.run([sys.executable, "-c", LATE_SCRIPT, mock.url], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "late events: 0"


def test_the_library_logger_is_silent_until_logging_is_configured(mock: Any) -> None:
    script = ("import sys, sigma_auth; c = sigma_auth.Client(sigma_auth.Config(sys.argv[1], 'demo-client', 'wrong',"
              " max_attempts=1))\ntry:\n    c.token()\nexcept sigma_auth.InvalidClient:\n    print('refused')")
    done = subprocess.run([sys.executable, "-c", script, mock.url], capture_output=True, timeout=60)
    assert done.stdout.decode().strip() == "refused" and done.stderr == b"", done.stderr.decode()


def test_a_configs_handler_goes_with_the_config_and_its_clients(mock: Any) -> None:
    """Measured: 100,000 configs with on_event, one per request, kept 100,001 handlers."""
    import gc

    from sigma_auth import _events

    before = len(_events._handlers)
    seen: list[str] = []
    for _ in range(2000):
        config = sigma_auth.Config(mock.url, "demo-client", "demo-secret", on_event=lambda e: seen.append(e.kind))
        client = sigma_auth.Client(config)
        del config  # the client keeps the handler while it lives
        assert len(_events._handlers) > before
        client.close()
        del client
    gc.collect()
    assert len(_events._handlers) <= before + 1, len(_events._handlers)
    # A handler still works while its client lives, after its config is gone.
    config = sigma_auth.Config(mock.url, "demo-client", "demo-secret", on_event=lambda e: seen.append(e.kind))
    with sigma_auth.Client(config) as client:
        del config
        gc.collect()
        client.token()
    assert "TOKEN_OBTAINED" in seen


def test_a_handler_bound_to_the_service_that_owns_the_client_goes_with_the_service(mock: Any) -> None:
    import gc

    from sigma_auth import _events

    class Service:
        def __init__(self) -> None:
            self.client = sigma_auth.Client(sigma_auth.Config(mock.url, "demo-client", "demo-secret",
                                                              on_event=self.handle))

        def handle(self, event: Event) -> None:
            pass

    gc.collect()
    before = len(_events._handlers)
    for _ in range(200):
        service = Service()
        del service
    gc.collect()
    assert len(_events._handlers) <= before + 1, len(_events._handlers)


def test_releasing_a_handler_that_held_the_last_reference_to_another_client_does_not_hang(mock: Any) -> None:
    # Its release frees the other client, whose registration is released in
    # turn, on the same thread, inside the first release.
    script = f"""
import gc, sigma_auth
mk = lambda h: sigma_auth.Config({mock.url!r}, "demo-client", "demo-secret", on_event=h)
sink = sigma_auth.Client(mk(lambda e: None))
config = mk(lambda e, s=sink: None)
del sink
del config
gc.collect()
print("done")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
