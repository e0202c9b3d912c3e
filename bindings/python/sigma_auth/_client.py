"""``Client``: a thread-safe, cached, self-refreshing token source."""

from __future__ import annotations

import ctypes
import threading
from typing import Optional

from . import _native
from ._config import Config, encode
from ._errors import check, raise_error
from ._handle import Handle, Managed
from ._token import Token, _config_handle

lib = _native.lib


class Client(Managed):
    """Keeps a token fresh. Share one across threads: ``token()`` returns the cached
    token without touching the network, refreshes once in the background near
    expiry, and makes a single request when none is usable.

    Use it as a context manager, or call ``close()``; it is also closed when
    garbage-collected.
    """

    def __init__(self, config: Config) -> None:
        config_handle = _config_handle(config)
        config_pointer = config_handle.acquire()
        try:
            pointer = _native.client_p()
            error = _native.error_p()
            check(lib.sigma_client_new(config_pointer, ctypes.byref(pointer), ctypes.byref(error)), error)
        finally:
            config_handle.release()
        self._config_repr = repr(config)
        self._handle = Handle(pointer, lib.sigma_client_free, "Client")
        # The library hands back the same C token while it stays current; keep one
        # reference to it so its Python view is built once per token, not per call.
        self._cache_lock = threading.Lock()
        self._cached: Optional[tuple[Optional[int], Token]] = None

    def token(self) -> Token:
        """A token valid for at least 10 more seconds."""
        handle = self._handle
        assert handle is not None
        cached = self._cached
        pointer = handle.acquire()
        try:
            # The hot path: one call asks whether the token held is still current.
            if cached is not None and lib.sigma_client_token_is_current(pointer, cached[0]):
                return cached[1]
            token = ctypes.c_void_p()
            error = _native.error_p()
            status = lib.sigma_client_token(pointer, ctypes.byref(token), ctypes.byref(error))
        finally:
            handle.release()
        if status:
            raise_error(status, error)
        cached = self._cached
        if cached is not None and cached[0] == token.value:
            lib.sigma_token_free(token)  # the cache already holds a reference to it
            return cached[1]
        view = Token._from_native(token)
        with self._cache_lock:
            replaced, self._cached = self._cached, (token.value, view)
        if replaced is not None:
            lib.sigma_token_free(replaced[0])
        return view

    @property
    def access_token(self) -> str:
        """The current access token, for ``Authorization: Bearer ...``."""
        return self.token().access_token

    def invalidate(self, access_token: str) -> None:
        """Report that an API call was refused (401) with ``access_token``. The
        cached token is dropped only if it is still that one."""
        raw = encode("access_token", access_token)
        assert self._handle is not None
        pointer = self._handle.acquire()
        try:
            lib.sigma_client_invalidate(pointer, raw)
        finally:
            self._handle.release()

    def close(self) -> None:
        super().close()
        lock = getattr(self, "_cache_lock", None)
        if lock is not None:
            with lock:
                cached, self._cached = self._cached, None
            if cached is not None:
                lib.sigma_token_free(cached[0])

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<sigma_auth.Client {self._config_repr}{state}>"
