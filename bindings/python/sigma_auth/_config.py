"""``Config``: where tokens come from and how patiently to ask."""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional, TypedDict, Union

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; annotations only

    from ._events import Event

from . import _events, _native
from ._errors import check
from ._handle import Handle, Managed
from ._secret import Secret, hide

lib = _native.lib


def encode(name: str, value: object) -> bytes:
    """A str argument as NUL-terminated UTF-8, with Python's own exceptions for
    the wrong type (TypeError) or an unrepresentable value (ValueError)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name} must not contain NUL characters")
    return value.encode("utf-8")  # lone surrogates raise UnicodeEncodeError, a ValueError


def _path(name: str, value: object) -> bytes:
    """A path argument as the file system's bytes (os.fsencode: on Unix a name
    need not be UTF-8), NUL-terminated by ctypes."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be str, bytes or os.PathLike, not {type(value).__name__}")
    raw = os.fsencode(value)
    if b"\0" in raw:
        raise ValueError(f"{name} must not contain NUL characters")
    return raw


_U32_MAX, _U64_MAX = 2**32 - 1, 2**64 - 1


def _millis(name: str, seconds: object) -> int:
    """Seconds as the library's milliseconds. A value C's uint64_t cannot hold
    (negative, NaN, infinite, huge) becomes the largest, which the library
    refuses with its own message: the range rules live in one place."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not 0 <= seconds < _U64_MAX / 1000:  # NaN too
        return _U64_MAX
    return int(seconds * 1000)


def _check_names(options: Mapping[str, object]) -> None:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r} (the options are: {', '.join(sorted(_OPTIONS))})")


class ConfigOptions(TypedDict, total=False):
    """The keyword options of ``Config`` and ``Config.from_env``, all optional.
    Times are in seconds."""

    timeout: Optional[float]
    connect_timeout: Optional[float]
    max_attempts: Optional[int]
    ca_file: Union[str, bytes, "os.PathLike[str]", None]
    basic_auth: bool
    refresh_margin: Optional[float]
    user_agent_suffix: Optional[str]
    token_cache: Union[str, bytes, "os.PathLike[str]", None]
    token_store: Optional[str]
    allowed_origins: Iterable[str]
    subject_token_claims: Optional[Mapping[str, object]]
    on_event: Optional[Callable[["Event"], object]]


_OPTIONS = frozenset(ConfigOptions.__annotations__)


class Config(Managed):
    """Settings for token requests; immutable once made, so safe to share.

    ``endpoint`` is a cloud name (``"aws-us-east"``) or an https base URL (plain
    http only for loopback). Times are in seconds. ``token_cache`` is a directory
    through which processes share tokens (``from_env`` reads SIGMA_TOKEN_CACHE).
    ``token_store`` is a Redis URL (``redis://[user:password@]host[:port][/db]``,
    or ``rediss://`` for TLS) through which hosts share tokens (``from_env``
    reads SIGMA_TOKEN_STORE); Redis down never fails a call (a
    STORE_UNAVAILABLE event says why), and no error or repr shows its password.
    ``allowed_origins`` lists origins (``"https://host[:port]"``) besides the
    endpoint's own to which the HTTP adapters may send tokens.
    ``on_event`` is called with each ``sigma_auth.Event`` (events also go to the
    ``sigma_auth`` logger: DEBUG, or WARNING for failures, retries, fallbacks
    and bypasses), from the thread that did the work; it must not block for long.
    ``subject_token_claims`` adds claims (such as ``{"aud": "sigmacomputing"}``)
    to the subject token of ``Client.impersonate``. ``client_secret`` may be a
    ``str`` or a ``sigma_auth.Secret``. The library checks every value (and
    raises ``InvalidArgument``, a ``ValueError``, with its reason).
    """

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: Union[str, Secret],
        **options: "Unpack[ConfigOptions]",
    ) -> None:
        client_secret = hide(client_secret)  # first: no frame of ours holds it in clear
        _check_names(options)
        pointer = _native.config_p()
        error = _native.error_p()
        check(lib.sigma_config_new(encode("endpoint", endpoint), encode("client_id", client_id),
                                   client_secret._encode("client_secret"), ctypes.byref(pointer),
                                   ctypes.byref(error)), error)
        self._finish(pointer, options)

    @classmethod
    def from_env(cls, **options: "Unpack[ConfigOptions]") -> "Config":
        """Reads SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
        SIGMA_CLIENT_SECRET, and SIGMA_TOKEN_CACHE and SIGMA_TOKEN_STORE if set
        (all read by the library); the keyword options are those of ``Config()``."""
        _check_names(options)
        self = cls.__new__(cls)
        pointer = _native.config_p()
        error = _native.error_p()
        check(lib.sigma_config_from_env(ctypes.byref(pointer), ctypes.byref(error)), error)
        self._finish(pointer, options)
        return self

    @classmethod
    def from_login(cls, profile: str = "default", **options: "Unpack[ConfigOptions]") -> "Config":
        """A config whose tokens come from the person's sign-in stored under
        ``profile`` (by ``sigma_auth.login()`` or ``sigma-token login``): its
        clients refresh through the stored sign-in, shared by every process,
        and never hand out its refresh token. Raises ``LoginRequired`` when
        there is none; the keyword options are those of ``Config()``."""
        _check_names(options)
        self = cls.__new__(cls)
        pointer = _native.config_p()
        error = _native.error_p()
        check(lib.sigma_config_from_login(encode("profile", profile), ctypes.byref(pointer), ctypes.byref(error)),
              error)
        self._finish(pointer, options)
        return self

    def _finish(self, pointer: "ctypes._Pointer[_native.sigma_config]", options: ConfigOptions) -> None:
        self._handle = Handle(pointer, lib.sigma_config_free, "Config")
        try:
            # For repr: what the library made of the endpoint and client id.
            self._endpoint = _native.take_string(lib.sigma_config_base_url(pointer))
            self._client_id = _native.take_string(lib.sigma_config_client_id(pointer))
            self._registration = _events.register(options.get("on_event"))
            if self._registration is not None:
                with self._borrow() as config_pointer:
                    error = _native.error_p()
                    check(lib.sigma_config_set_event_callback(config_pointer, _events._trampoline,
                                                              self._registration.context, ctypes.byref(error)), error)
            version = f"python/{sys.version_info[0]}.{sys.version_info[1]}"
            self._set(lib.sigma_config_set_language, version.encode())
            for name, setter in (("timeout", lib.sigma_config_set_timeout_ms),
                                 ("connect_timeout", lib.sigma_config_set_connect_timeout_ms),
                                 ("refresh_margin", lib.sigma_config_set_refresh_margin_ms)):
                seconds = options.get(name)
                if seconds is not None:
                    self._set(setter, _millis(name, seconds))
            max_attempts = options.get("max_attempts")
            if max_attempts is not None:
                if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
                    raise TypeError("max_attempts must be int")
                # Beyond what C's uint32_t holds: clamped, and refused by the library.
                self._set(lib.sigma_config_set_max_attempts, min(max(max_attempts, 0), _U32_MAX))
            for name, setter, path in (("ca_file", lib.sigma_config_set_ca_file, options.get("ca_file")),
                                       ("token_cache", lib.sigma_config_set_token_cache, options.get("token_cache"))):
                if path is not None:
                    self._set(setter, _path(name, path))
            store = options.get("token_store")
            if store is not None:
                self._set(lib.sigma_config_set_token_store, encode("token_store", store))
            basic_auth = options.get("basic_auth", False)
            if not isinstance(basic_auth, bool):
                raise TypeError("basic_auth must be bool")
            if basic_auth:
                self._set(lib.sigma_config_set_basic_auth, 1)
            suffix = options.get("user_agent_suffix")
            if suffix is not None:
                self._set(lib.sigma_config_set_user_agent_suffix, encode("user_agent_suffix", suffix))
            origins = options.get("allowed_origins", ())
            if isinstance(origins, str):
                raise TypeError("allowed_origins must be a list of origins, not one str")
            for origin in origins:
                self._set(lib.sigma_config_allow_origin, encode("allowed_origins", origin))
            claims = options.get("subject_token_claims")
            if claims is not None:
                self._set(lib.sigma_config_set_subject_token_claims,
                          encode("subject_token_claims", json.dumps(dict(claims))))
        except BaseException:
            self.close()
            raise

    def _set(self, setter: Callable[..., int], value: object) -> None:
        with self._borrow() as pointer:
            error = _native.error_p()
            check(setter(pointer, value, ctypes.byref(error)), error)

    def __repr__(self) -> str:
        # Also called on a half-made Config (a traceback formatted with locals).
        state = " closed" if self.closed else ""
        endpoint, client_id = getattr(self, "_endpoint", "?"), getattr(self, "_client_id", "?")
        return f"<sigma_auth.Config endpoint={endpoint!r} client_id={client_id!r}{state}>"
