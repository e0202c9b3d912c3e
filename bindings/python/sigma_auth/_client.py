"""``Client``: a thread-safe, fork-safe, cached, self-refreshing token source."""

from __future__ import annotations

import ctypes
import dataclasses
import itertools
import time
from typing import Optional, Tuple, Union

from . import _native
from ._config import Config, encode
from ._errors import check
from ._events import ClientStats, stats_of
from ._handle import Handle, Managed
from ._secret import Secret, hide
from ._token import Token, _take

lib = _native.lib
_monotonic_ns = time.monotonic_ns  # the clock of sigma_client_fresh_until (CLOCK_MONOTONIC)
_DUE = lib.sigma_serial_due_bit()  # SIGMA_SERIAL_DUE, from the library


class Client(Managed):
    """Keeps a token fresh. Share one across threads: ``token()`` returns the cached
    token without touching the network, refreshes once in the background near
    expiry, and makes a single request when none is usable.

    Safe across ``os.fork()`` (gunicorn ``--preload``, Celery, ``multiprocessing``):
    a child keeps the current token, gets its own connections and refreshes on
    its own, never with its parent's single-use refresh token.

    Use it as a context manager, or call ``close()``; it is also closed when
    garbage-collected.
    """

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise TypeError(f"config must be sigma_auth.Config, not {type(config).__name__}")
        with config._borrow() as config_pointer:
            pointer = _native.client_p()
            error = _native.error_p()
            check(lib.sigma_client_new(config_pointer, ctypes.byref(pointer), ctypes.byref(error)), error)
        self._config_repr = repr(config)
        # The config's event handler stays registered while this client lives.
        self._registration = config._registration
        self._start(Handle(pointer, lib.sigma_client_free, "Client"))

    def _start(self, handle: "Handle[object]") -> None:
        self._handle = handle
        with handle.borrow() as pointer:
            # The word in which the library publishes its current token's serial
            # (see sigma_client_serial_word): read here without a call. Readable for the life of the process, so
            # reading it after close() is harmless (see sigma_client_serial_word).
            self._word = lib.sigma_client_serial_word(pointer).contents
        # The token last handed out, with its serial, and the
        # time.monotonic_ns() until which it may be handed out without asking
        # the library once it is due. One tuple, replaced by plain assignment,
        # so a token is never paired with another's deadline, with no lock.
        self._held: Optional[Tuple[int, int, Token]] = None  # (serial, deadline, token)
        # Tokens handed out without the library counting them (itertools.count
        # steps atomically under the GIL, unlike ``+= 1``).
        self._served = itertools.count()

    def token(self) -> Token:
        """A token valid for at least 10 more seconds."""
        # The hot path: no call into the library. The token held is current
        # and not due while the library's serial word holds its serial (an
        # invalidation, a new token or the refresh falling due changes the
        # word at once, whoever causes it). Once due (the word's top bit set),
        # it is served until the deadline the library gave, then asked again.
        held = self._held
        if held is not None:
            word = self._word.value
            if word == held[0] or (word == held[0] | _DUE and _monotonic_ns() < held[1]):
                next(self._served)
                return held[2]
        return self._ask(held)

    def _ask(self, held: Optional[Tuple[int, int, Token]]) -> Token:
        with self._borrow() as pointer:
            if held is not None:
                # Still current? Starts the background refresh when it is due;
                # then the deadline is 1 ms away, so this runs at most once a
                # millisecond while the refresh is in flight.
                until = lib.sigma_client_fresh_until(pointer, held[0])
                if until:
                    self._held = (held[0], until, held[2])
                    next(self._served)
                    return held[2]
            token = _native.token_p()
            error = _native.error_p()
            check(lib.sigma_client_token(pointer, ctypes.byref(token), ctypes.byref(error)), error)
            view = _take(token)
            self._held = (view.serial, lib.sigma_client_fresh_until(pointer, view.serial), view)
        return view

    @property
    def access_token(self) -> str:
        """The current access token, for ``Authorization: Bearer ...``."""
        held = self._held  # token()'s hot path, inlined: this is read on every API call
        if held is not None:
            word = self._word.value
            if word == held[0] or (word == held[0] | _DUE and _monotonic_ns() < held[1]):
                next(self._served)
                return held[2].access_token
        return self._ask(held).access_token

    def impersonate(self, email: str, tenant: Optional[str] = None) -> "Client":
        """A client whose tokens are ``email``'s (in the tenant organisation
        ``tenant``, if given), obtained with Sigma's token-exchange grant and
        vouched for by this client's tokens: this client's credentials must be an
        admin's, and the user must not be an admin (``Forbidden`` otherwise).
        Calls for the same user share one cached, self-refreshing token, and all
        of them this client's one admin token; this client keeps a user's token
        while it is usable, so calling ``impersonate`` per request and closing
        the result costs one exchange per user per token lifetime (invalidate
        the user's token to force a new exchange, e.g. after a role change)."""
        raw_email, raw_tenant = encode("email", email), None if tenant is None else encode("tenant", tenant)
        with self._borrow() as pointer:
            derived = _native.client_p()
            error = _native.error_p()
            check(lib.sigma_client_impersonate(pointer, raw_email, raw_tenant, ctypes.byref(derived),
                                               ctypes.byref(error)), error)
        client = Client.__new__(Client)
        client._config_repr = f"{self._config_repr} acting as {email!r}"
        client._registration = self._registration
        client._start(Handle(derived, lib.sigma_client_free, "Client"))
        return client

    def invalidate(self, access_token: Union[str, Secret, Token]) -> None:
        """Report that an API call was refused (401) with this token (its text, or
        the ``Token`` itself). The cached token is dropped only if it is still
        that one, so a burst of 401s causes one new fetch."""
        if isinstance(access_token, Token):
            self._invalidate_serial(access_token.serial)
            return
        access_token = hide(access_token)  # first: no frame of ours holds it in clear
        with self._borrow() as pointer:
            lib.sigma_client_invalidate(pointer, access_token._encode("access_token"))

    def close(self) -> None:
        """Frees the C client (safe to call more than once); later calls raise
        ``ValueError``. Calls running in other threads finish first."""
        self._held = None
        super().close()

    def stats(self) -> "ClientStats":
        """Counters since this client was created: tokens served, requests by
        grant and outcome, background refreshes, retries, cache hits,
        invalidations, and the times of the last success and failure."""
        with self._borrow() as pointer:
            stats = stats_of(pointer)
        # The library counted the tokens it handed out; this client served the
        # rest from its own copy. (Reading a count's value through its repr
        # is the one way that does not step it.)
        served_here = int(repr(self._served)[6:-1])
        return dataclasses.replace(stats, tokens_served=stats.tokens_served + served_here)

    def _invalidate_serial(self, serial: int) -> None:
        with self._borrow() as pointer:
            lib.sigma_client_invalidate_serial(pointer, serial)

    def _origin_allowed(self, scheme: str, host: str, port: Optional[int]) -> bool:
        """Whether a request to this origin may carry the token (the endpoint's
        origin, or one of ``Config(allowed_origins=...)``); asked by the adapters
        for every request, with the origin as their HTTP library parsed it."""
        if not (scheme and host) or not 0 <= (port or 0) <= 65535:
            return False
        with self._borrow() as pointer:
            return bool(lib.sigma_client_origin_allowed(pointer, scheme.encode(), host.encode(), port or 0))

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<sigma_auth.Client {getattr(self, '_config_repr', '?')}{state}>"
