"""``Token`` and the stateless ``get_token`` / ``refresh_token`` calls."""

from __future__ import annotations

import ctypes
import dataclasses
import datetime
from typing import NoReturn, Optional, Union

from . import _native
from ._config import Config, encode
from ._errors import check
from ._secret import Secret, hide

lib = _native.lib


@dataclasses.dataclass(frozen=True, repr=False)
class Token:
    """An access token as Sigma issued it. Immutable; ``repr`` hides the tokens."""

    access_token: str
    refresh_token: Optional[str]
    serial: int
    """Identifies the token in this process: a newer token has a larger serial."""
    token_type: str
    expires_in: int
    """Lifetime in seconds, as issued."""
    expires_at: datetime.datetime
    """When it expires (aware, UTC), for display."""

    def __repr__(self) -> str:
        return (f"Token(access_token='[redacted]', refresh_token={'[redacted]' if self.refresh_token else None!r}, "
                f"serial={self.serial}, token_type={self.token_type!r}, expires_in={self.expires_in}, "
                f"expires_at={self.expires_at.isoformat()!r})")

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Pickles end up in caches, queues and files: a token should not.
        raise TypeError("a sigma_auth.Token is not picklable (it holds credentials)")

    def __copy__(self) -> "Token":
        return self  # immutable

    def __deepcopy__(self, memo: object) -> "Token":
        return self

    @classmethod
    def _from_native(cls, token: ctypes.c_void_p) -> "Token":
        refresh = lib.sigma_token_refresh_token(token)
        return cls(
            access_token=lib.sigma_token_access_token(token).decode("ascii"),
            refresh_token=refresh.decode("ascii") if refresh else None,
            serial=lib.sigma_token_serial(token),
            token_type=lib.sigma_token_type(token).decode("ascii"),
            expires_in=lib.sigma_token_expires_in(token),
            expires_at=datetime.datetime.fromtimestamp(lib.sigma_token_expires_at(token), datetime.timezone.utc),
        )


def _take(token: ctypes.c_void_p) -> Token:
    """Copies a C token into a ``Token`` and frees it."""
    try:
        return Token._from_native(token)
    finally:
        lib.sigma_token_free(token)


def get_token(config: Config) -> Token:
    """A new token with the client-credentials grant (no caching: see ``Client``)."""
    with _config(config)._borrow() as pointer:
        token = _native.token_p()
        error = _native.error_p()
        check(lib.sigma_token_get(pointer, ctypes.byref(token), ctypes.byref(error)), error)
    return _take(token)


def refresh_token(config: Config, refresh_token: Union[str, Secret]) -> Token:
    """Exchanges a refresh token. Sigma's are single use: keep the new one."""
    refresh_token = hide(refresh_token)  # first: no frame of ours holds it in clear
    with _config(config)._borrow() as pointer:
        token = _native.token_p()
        error = _native.error_p()
        check(lib.sigma_token_refresh(pointer, refresh_token._encode("refresh_token"), ctypes.byref(token),
                                      ctypes.byref(error)), error)
    return _take(token)


def impersonate_token(config: Config, email: str, tenant: Optional[str] = None) -> Token:
    """A token for ``email`` (in ``tenant``, if given), without caching: a new
    admin token with ``config``'s credentials (an admin's), then one token
    exchange. Use ``Client.impersonate`` to keep a user's token fresh."""
    raw_email, raw_tenant = encode("email", email), None if tenant is None else encode("tenant", tenant)
    with _config(config)._borrow() as pointer:
        token = _native.token_p()
        error = _native.error_p()
        check(lib.sigma_token_impersonate(pointer, raw_email, raw_tenant, ctypes.byref(token), ctypes.byref(error)),
              error)
    return _take(token)


def _config(config: object) -> Config:
    if not isinstance(config, Config):
        raise TypeError(f"config must be sigma_auth.Config, not {type(config).__name__}")
    return config
