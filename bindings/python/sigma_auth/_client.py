"""``Client``: a thread-safe, fork-safe, cached, self-refreshing token source."""

from __future__ import annotations

import ctypes
from typing import Optional, Union

from . import _native
from ._config import Config, encode
from ._errors import check
from ._events import ClientStats, stats_of
from ._handle import Handle, Managed
from ._secret import Secret, hide
from ._token import Token, _take

lib = _native.lib


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
        self._handle = Handle(pointer, lib.sigma_client_free, "Client")
        # The last token handed out. Replaced by plain assignment: a thread may
        # briefly put back an older one, which the serial check then refuses, so
        # a stale token is never returned and no lock is needed.
        self._view: Optional[Token] = None

    def token(self) -> Token:
        """A token valid for at least 10 more seconds."""
        view = self._view
        with self._borrow() as pointer:
            # The hot path: one call asks whether the token held is still current.
            if view is not None and lib.sigma_client_serial_is_current(pointer, view.serial):
                return view
            token = _native.token_p()
            error = _native.error_p()
            check(lib.sigma_client_token(pointer, ctypes.byref(token), ctypes.byref(error)), error)
        view = _take(token)
        self._view = view
        return view

    @property
    def access_token(self) -> str:
        """The current access token, for ``Authorization: Bearer ...``."""
        return self.token().access_token

    def impersonate(self, email: str, tenant: Optional[str] = None) -> "Client":
        """A client whose tokens are ``email``'s (in the tenant organisation
        ``tenant``, if given), obtained with Sigma's token-exchange grant and
        vouched for by this client's tokens: this client's credentials must be an
        admin's, and the user must not be an admin (``Forbidden`` otherwise).
        Calls for the same user share one cached, self-refreshing token, and all
        of them this client's one admin token."""
        raw_email, raw_tenant = encode("email", email), None if tenant is None else encode("tenant", tenant)
        with self._borrow() as pointer:
            derived = _native.client_p()
            error = _native.error_p()
            check(lib.sigma_client_impersonate(pointer, raw_email, raw_tenant, ctypes.byref(derived),
                                               ctypes.byref(error)), error)
        client = Client.__new__(Client)
        client._config_repr = f"{self._config_repr} acting as {email!r}"
        client._handle = Handle(derived, lib.sigma_client_free, "Client")
        client._view = None
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

    def stats(self) -> "ClientStats":
        """Counters since this client was created: tokens served, requests by
        grant and outcome, background refreshes, retries, cache hits,
        invalidations, and the times of the last success and failure."""
        with self._borrow() as pointer:
            return stats_of(pointer)

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
