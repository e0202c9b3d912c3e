"""Events and counters.

Every ``Config`` sends the library's events to ``logging.getLogger("sigma_auth")``
(DEBUG for routine work, WARNING for failures, retries, fallbacks, cache
bypasses and an unavailable token store) and to its ``on_event`` callable, if
given. One ctypes trampoline serves them all; it never lets an exception reach
C, and it is unregistered at interpreter exit, so no event can arrive while or
after Python shuts down.
Events never carry a secret or a token.
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import itertools
import logging
import threading
import weakref
from typing import Callable, Optional

from . import _native
from ._errors import Status, _status

lib = _native.lib
logger = logging.getLogger("sigma_auth")
# A library's logger stays quiet until the application configures logging.
logger.addHandler(logging.NullHandler())



def _kinds() -> dict[int, str]:
    """Every event kind's value and name, from the library (values start at 1)."""
    kinds: dict[int, str] = {}
    while (name := lib.sigma_event_kind_name(len(kinds) + 1).decode()) != "UNKNOWN":
        kinds[len(kinds) + 1] = name
    return kinds


KINDS = _kinds()
# The kinds logged as warnings (failures, retries, fallbacks, cache or store bypassed), as the library says.
WARNINGS = frozenset(name for value, name in KINDS.items() if lib.sigma_event_kind_is_warning(value))


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing the library did. Fields that do not apply to its kind are None."""

    kind: str
    """TOKEN_OBTAINED, REFRESH_STARTED, REFRESH_FAILED, RETRY_SCHEDULED,
    FALLBACK_TO_CLIENT_CREDENTIALS, INVALIDATED, CACHE_HIT, CACHE_BYPASSED,
    STORE_HIT (the token came from the token store shared by hosts) or
    STORE_UNAVAILABLE (the token store could not be used; the call went on
    without it)."""
    grant: Optional[str]
    status: Optional[Status]
    http_status: Optional[int]
    request_id: Optional[str]
    message: Optional[str]
    attempt: int
    wait: Optional[float]
    """Seconds before the next attempt (RETRY_SCHEDULED)."""
    duration: Optional[float]
    """Seconds the request took (TOKEN_OBTAINED, REFRESH_FAILED)."""
    serial: Optional[int]
    expires_in: Optional[int]
    background: bool


@dataclasses.dataclass(frozen=True)
class ClientStats:
    """A client's counters since it was created."""

    tokens_served: int
    client_credentials_ok: int
    client_credentials_failed: int
    refresh_token_ok: int
    refresh_token_failed: int
    token_exchange_ok: int
    token_exchange_failed: int
    background_refreshes: int
    retries: int
    cache_hits: int
    invalidations: int
    last_success_unix_ms: int
    last_failure_unix_ms: int


def _text(raw: Optional[bytes]) -> Optional[str]:
    return raw.decode("utf-8", "replace") if raw else None


def _read(event: int) -> Event:
    kind = (lib.sigma_event_kind_name(lib.sigma_event_get_kind(event)) or b"UNKNOWN").decode()
    status = lib.sigma_event_status(event)
    wait, duration = lib.sigma_event_wait_us(event), lib.sigma_event_duration_us(event)
    return Event(
        kind=kind,
        grant=_text(lib.sigma_event_grant(event)),
        status=_status(status) if status else None,
        http_status=lib.sigma_event_http_status(event) or None,
        request_id=_text(lib.sigma_event_request_id(event)),
        message=_text(lib.sigma_event_message(event)),
        attempt=lib.sigma_event_attempt(event),
        wait=wait / 1e6 if kind == "RETRY_SCHEDULED" else None,
        duration=duration / 1e6 if duration else None,
        serial=lib.sigma_event_serial(event) or None,
        expires_in=lib.sigma_event_expires_in(event) or None,
        background=bool(lib.sigma_event_background(event)),
    )


def _log(event: Event) -> None:
    level = logging.WARNING if event.kind in WARNINGS else logging.DEBUG
    if not logger.isEnabledFor(level):
        return
    details = [f"{name}={value}" for name, value in (
        ("grant", event.grant), ("serial", event.serial), ("expires_in", event.expires_in),
        ("attempt", event.attempt or None), ("wait", event.wait), ("http_status", event.http_status),
        ("request_id", event.request_id), ("background", event.background or None),
    ) if value is not None]
    if event.duration is not None:
        details.append(f"duration={event.duration * 1000:.1f}ms")
    text = f"{event.kind} {' '.join(details)}" + (f": {event.message}" if event.message else "")
    logger.log(level, "%s", text, extra={"sigma_event": event})


# Context -> its registration, weakly: the handler lives on the registration,
# so a handler that refers back to what holds its client (a bound method of
# the service that owns the client) makes a cycle the collector can free.
_handlers: "dict[int, weakref.ref[Registration]]" = {}
_ids = itertools.count(1)
# Reentrant: a finalizer (releasing another registration) may run on this
# thread while it holds the lock, when the collector runs inside an allocation.
_lock = threading.RLock()


def _dispatch(context: Optional[int], event: Optional[int]) -> None:
    try:
        if not event:
            return
        read = _read(event)
        _log(read)
        reference = _handlers.get(context or 0)
        registration = reference() if reference is not None else None
        handler = registration.handler if registration is not None else None
        if handler is not None:
            handler(read)
    except BaseException:  # nothing may unwind into C; a broken handler only loses its event
        pass


_trampoline = _native.event_callback(_dispatch)


class Registration:
    """An ``on_event`` handler's place here, shared by the config it was given
    to and every client made from it (they outlive the config and keep sending
    its events). When the last of them is gone, the handler goes too: the
    library stops delivering to its context, and the entry is removed, so a
    program that makes a config per request does not keep every handler."""

    def __init__(self, context: int, handler: Optional[Callable[[Event], object]]) -> None:
        self.context = context
        self.handler = handler
        if context:
            weakref.finalize(self, _release, context)


def _release(context: int) -> None:
    with _lock:
        _handlers.pop(context, None)
        stopped = _stopped
    if not stopped:
        lib.sigma_event_callback_unregister(context)


# Configs without an ``on_event`` share context 0 (logging only), never released.
_LOGGING_ONLY = Registration(0, None)


def register(on_event: Optional[Callable[[Event], object]]) -> Optional[Registration]:
    """The registration whose context ``sigma_config_set_event_callback`` gets,
    routed to ``on_event``; None once the interpreter is shutting down (then no
    callback is set at all)."""
    if on_event is not None and not callable(on_event):
        raise TypeError("on_event must be callable")
    with _lock:
        if _stopped:
            return None
        if on_event is None:
            return _LOGGING_ONLY
        registration = Registration(next(_ids), on_event)
        _handlers[registration.context] = weakref.ref(registration)
    return registration


_stopped = False


@atexit.register
def _stop() -> None:
    # After this, no event reaches Python, whatever threads the library runs,
    # and configs made later (by a later atexit function, a daemon thread) get
    # no callback.
    global _stopped
    with _lock:
        _stopped = True
        contexts = list(_handlers)
    for context in contexts:
        lib.sigma_event_callback_unregister(context)


def stats_of(client_pointer: object) -> ClientStats:
    raw = _native.sigma_stats()
    error = _native.error_p()
    from ._errors import check

    check(lib.sigma_client_stats(client_pointer, ctypes.byref(raw), ctypes.sizeof(raw), ctypes.byref(error)), error)
    return ClientStats(**{field[0]: getattr(raw, field[0]) for field in raw._fields_})
