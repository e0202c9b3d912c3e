"""sigma-auth: obtain, cache and refresh Sigma Computing REST API tokens.

>>> import sigma_auth
>>> with sigma_auth.Client(sigma_auth.Config.from_env()) as client:
...     headers = {"Authorization": f"Bearer {client.access_token}"}

All behaviour lives in the native library (a Rust core behind a C ABI); this
package is a thin, typed ctypes layer over it. ``sigma_auth.requests`` and
``sigma_auth.httpx`` attach tokens to those clients and retry once on a 401;
``Client.impersonate`` acts as a user; ``sigma_auth.embed`` signs embed URLs.
"""

from ._client import Client
from ._config import Config, ConfigOptions
from ._errors import (
    Forbidden,
    HTTPError,
    InsecureURL,
    InternalError,
    InvalidArgument,
    InvalidClient,
    InvalidGrant,
    LoginDenied,
    LoginRequired,
    LoginUnavailable,
    NetworkError,
    ProtocolError,
    RateLimited,
    ServerError,
    SigmaAuthError,
    Status,
    Timeout,
)
from ._events import ClientStats, Event
from ._login import PendingLogin, begin_login, login, logout
from ._native import lib as _lib
from ._secret import Secret
from ._token import Token, get_token, impersonate_token, refresh_token

__version__: str = _lib.sigma_version().decode()

__all__ = [
    "Client",
    "Config",
    "ConfigOptions",
    "Token",
    "Secret",
    "Event",
    "ClientStats",
    "get_token",
    "refresh_token",
    "impersonate_token",
    "login",
    "begin_login",
    "logout",
    "PendingLogin",
    "Status",
    "SigmaAuthError",
    "InvalidArgument",
    "InsecureURL",
    "NetworkError",
    "Timeout",
    "InvalidClient",
    "InvalidGrant",
    "RateLimited",
    "ServerError",
    "HTTPError",
    "ProtocolError",
    "InternalError",
    "Forbidden",
    "LoginRequired",
    "LoginDenied",
    "LoginUnavailable",
]
