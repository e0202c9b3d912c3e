"""Status codes and exceptions: one exception class per ``sigma_status``."""

from __future__ import annotations

import ctypes
import enum
from typing import NoReturn, Optional

from . import _native


class Status(enum.IntEnum):
    """Mirrors the C ``sigma_status``; the values never change."""

    OK = 0
    INVALID_ARGUMENT = 1
    INSECURE_URL = 2
    NETWORK = 3
    TIMEOUT = 4
    INVALID_CLIENT = 5
    INVALID_GRANT = 6
    RATE_LIMITED = 7
    SERVER = 8
    HTTP = 9
    PROTOCOL = 10
    INTERNAL = 11
    FORBIDDEN = 12
    LOGIN_REQUIRED = 13
    LOGIN_DENIED = 14
    LOGIN_UNAVAILABLE = 15


class SigmaAuthError(Exception):
    """A failure with a stable ``code``, and the HTTP status and Sigma ``requestId``
    when there was a response. Its text never contains a secret or a token."""

    code: Status = Status.INTERNAL

    def __init__(self, message: str, code: Status, http_status: Optional[int] = None,
                 request_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code.name}, http_status={self.http_status}, "
                f"request_id={self.request_id!r}, message={self.message!r})")


class InvalidArgument(SigmaAuthError, ValueError):
    pass


class InsecureURL(SigmaAuthError, ValueError):
    pass


class NetworkError(SigmaAuthError, ConnectionError):
    pass


class Timeout(SigmaAuthError, TimeoutError):
    pass


class InvalidClient(SigmaAuthError):
    pass


class InvalidGrant(SigmaAuthError):
    pass


class RateLimited(SigmaAuthError):
    pass


class ServerError(SigmaAuthError):
    pass


class HTTPError(SigmaAuthError):
    pass


class ProtocolError(SigmaAuthError):
    pass


class InternalError(SigmaAuthError):
    pass


class Forbidden(SigmaAuthError, PermissionError):
    """Sigma refused to let these credentials act as that user (403)."""


class LoginRequired(SigmaAuthError, PermissionError):
    """No stored sign-in for the profile, or Sigma refused its refresh token:
    sign in again (``sigma_auth.login()`` or ``sigma-token login``)."""


class LoginDenied(SigmaAuthError, PermissionError):
    """The sign-in was declined in the browser, or the authorization server refused it."""


class LoginUnavailable(SigmaAuthError):
    """The host offers no browser sign-in, or its discovery named endpoints off Sigma's hosts."""


_CLASSES: dict[Status, type[SigmaAuthError]] = {
    Status.INVALID_ARGUMENT: InvalidArgument,
    Status.INSECURE_URL: InsecureURL,
    Status.NETWORK: NetworkError,
    Status.TIMEOUT: Timeout,
    Status.INVALID_CLIENT: InvalidClient,
    Status.INVALID_GRANT: InvalidGrant,
    Status.RATE_LIMITED: RateLimited,
    Status.SERVER: ServerError,
    Status.HTTP: HTTPError,
    Status.PROTOCOL: ProtocolError,
    Status.INTERNAL: InternalError,
    Status.FORBIDDEN: Forbidden,
    Status.LOGIN_REQUIRED: LoginRequired,
    Status.LOGIN_DENIED: LoginDenied,
    Status.LOGIN_UNAVAILABLE: LoginUnavailable,
}


def _status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.INTERNAL


def raise_error(status: int, error: "ctypes._Pointer[_native.sigma_error]") -> NoReturn:
    """Builds the exception for a failed call and frees the C error, exactly once."""
    lib = _native.lib
    try:
        if error:
            code = _status(lib.sigma_error_code(error))
            message = (lib.sigma_error_message(error) or b"").decode("utf-8", "replace")
            http_status = lib.sigma_error_http_status(error) or None
            raw_id = lib.sigma_error_request_id(error)
            request_id = raw_id.decode("utf-8", "replace") if raw_id else None
        else:
            code = _status(status)
            message, http_status, request_id = code.name, None, None
    finally:
        lib.sigma_error_free(error)
    raise _CLASSES[code](message, code, http_status, request_id)


def check(status: int, error: "ctypes._Pointer[_native.sigma_error]") -> None:
    if status != Status.OK:
        raise_error(status, error)
