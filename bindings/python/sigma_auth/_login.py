"""A person signs in from a browser (Sigma's OAuth for the REST API).

``login()`` does it in one call: it opens the browser and waits for it to come
back. A notebook, or any program with its own UI, uses the two steps:
``pending = begin_login(...)``, show ``pending.authorize_url``, then
``pending.wait()`` (or ``pending.complete(url)`` with the URL the browser was
sent back to, pasted). Either way the sign-in is stored under its profile, and
``Config.from_login(profile)`` makes configs from it.
"""

from __future__ import annotations

import ctypes
import webbrowser
from typing import Optional

from . import _native
from ._config import encode
from ._errors import check
from ._handle import Handle, Managed

lib = _native.lib


class PendingLogin(Managed):
    """A sign-in whose browser step is under way. Completes once."""

    def __init__(self, endpoint: str, profile: str = "default", scopes: str = "api:access",
                 timeout: Optional[float] = None) -> None:
        pointer = _native.login_p()
        error = _native.error_p()
        timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        check(lib.sigma_login_begin(encode("endpoint", endpoint), encode("profile", profile),
                                    encode("scopes", scopes), timeout_ms, ctypes.byref(pointer),
                                    ctypes.byref(error)), error)
        self._handle = Handle(pointer, lib.sigma_login_free, "PendingLogin")
        self.profile = profile
        with self._borrow() as login:
            self.authorize_url: str = lib.sigma_login_authorize_url(login).decode()

    def wait(self) -> None:
        """Waits for the browser to come back (until the timeout), then stores the sign-in."""
        with self._borrow() as login:
            error = _native.error_p()
            check(lib.sigma_login_wait(login, ctypes.byref(error)), error)

    def complete(self, redirected_url: str) -> None:
        """Completes the sign-in with the URL the browser was sent back to (pasted)."""
        with self._borrow() as login:
            error = _native.error_p()
            check(lib.sigma_login_complete(login, encode("redirected_url", redirected_url), ctypes.byref(error)),
                  error)

    def _repr_html_(self) -> str:
        # In a notebook: a link to open.
        return f'<a href="{self.authorize_url}" target="_blank" rel="noopener">Sign in to Sigma</a>'

    def __repr__(self) -> str:
        return f"PendingLogin(profile={self.profile!r})"


def begin_login(endpoint: str, profile: str = "default", scopes: str = "api:access",
                timeout: Optional[float] = None) -> PendingLogin:
    """Starts a sign-in: discovers the host's sign-in (``LoginUnavailable`` when
    there is none, before any browser opens), listens on 127.0.0.1, and gives
    the URL to open (``.authorize_url``)."""
    return PendingLogin(endpoint, profile, scopes, timeout)


def login(endpoint: str, profile: str = "default", scopes: str = "api:access",
          timeout: Optional[float] = None, open_browser: bool = True) -> None:
    """Signs a person in: opens the browser (``webbrowser``, which honours
    ``$BROWSER``; or prints the URL), waits for it to come back, and stores the
    sign-in under ``profile``."""
    with begin_login(endpoint, profile, scopes, timeout) as pending:
        if not (open_browser and webbrowser.open(pending.authorize_url)):
            print(f"Open this URL in a browser to sign in:\n    {pending.authorize_url}")
        pending.wait()


def logout(profile: str = "default") -> None:
    """Revokes the sign-in at Sigma when it offers revocation, then forgets it."""
    error = _native.error_p()
    check(lib.sigma_logout(encode("profile", profile), ctypes.byref(error)), error)
