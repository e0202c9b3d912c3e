"""``Config``: where tokens come from and how patiently to ask."""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional, Union

if TYPE_CHECKING:
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


def _millis(name: str, seconds: object) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds >= 0")
    return int(seconds * 1000)


class Config(Managed):
    """Settings for token requests; immutable once made, so safe to share.

    ``endpoint`` is a cloud name (``"aws-us-east"``) or an https base URL (plain
    http only for loopback). Times are in seconds. ``token_cache`` is a directory
    through which processes share tokens (``from_env`` reads SIGMA_TOKEN_CACHE).
    ``allowed_origins`` lists origins (``"https://host[:port]"``) besides the
    endpoint's own to which the HTTP adapters may send tokens.
    ``on_event`` is called with each ``sigma_auth.Event`` (events also go to the
    ``sigma_auth`` logger: DEBUG, or WARNING for failures, retries and
    fallbacks), from the thread that did the work; it must not block for long.
    ``subject_token_claims`` adds claims (such as ``{"aud": "sigmacomputing"}``)
    to the subject token of ``Client.impersonate``. ``client_secret`` may be a
    ``str`` or a ``sigma_auth.Secret``.
    """

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: Union[str, Secret],
        *,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
        ca_file: Union[str, "os.PathLike[str]", None] = None,
        basic_auth: bool = False,
        refresh_margin: Optional[float] = None,
        user_agent_suffix: Optional[str] = None,
        token_cache: Union[str, "os.PathLike[str]", None] = None,
        allowed_origins: Iterable[str] = (),
        subject_token_claims: Optional[Mapping[str, object]] = None,
        on_event: Optional[Callable[["Event"], object]] = None,
    ) -> None:
        client_secret = hide(client_secret)  # first: no frame of ours holds it in clear
        self._endpoint = endpoint
        self._client_id = client_id
        pointer = _native.config_p()
        error = _native.error_p()
        check(lib.sigma_config_new(encode("endpoint", endpoint), encode("client_id", client_id),
                                   client_secret._encode("client_secret"), ctypes.byref(pointer),
                                   ctypes.byref(error)), error)
        self._finish(pointer, timeout, connect_timeout, max_attempts, ca_file, basic_auth, refresh_margin,
                     user_agent_suffix, token_cache, allowed_origins, subject_token_claims, on_event)

    @classmethod
    def from_env(cls, **options: object) -> "Config":
        """Reads SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
        SIGMA_CLIENT_SECRET; the keyword options are those of ``Config()``."""
        self = cls.__new__(cls)
        self._endpoint = os.environ.get("SIGMA_BASE_URL", "")
        self._client_id = os.environ.get("SIGMA_CLIENT_ID", "")
        pointer = _native.config_p()
        error = _native.error_p()
        check(lib.sigma_config_from_env(ctypes.byref(pointer), ctypes.byref(error)), error)
        self._finish(pointer, **options)  # type: ignore[arg-type]
        return self

    def _finish(
        self,
        pointer: "ctypes._Pointer[_native.sigma_config]",
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
        ca_file: Union[str, "os.PathLike[str]", None] = None,
        basic_auth: bool = False,
        refresh_margin: Optional[float] = None,
        user_agent_suffix: Optional[str] = None,
        token_cache: Union[str, "os.PathLike[str]", None] = None,
        allowed_origins: Iterable[str] = (),
        subject_token_claims: Optional[Mapping[str, object]] = None,
        on_event: Optional[Callable[["Event"], object]] = None,
    ) -> None:
        self._handle = Handle(pointer, lib.sigma_config_free, "Config")
        try:
            with self._borrow() as config_pointer:
                error = _native.error_p()
                check(lib.sigma_config_set_event_callback(config_pointer, _events._trampoline,
                                                          _events.register(on_event), ctypes.byref(error)), error)
            version = f"python/{sys.version_info[0]}.{sys.version_info[1]}"
            self._set(lib.sigma_config_set_language, version.encode())
            if timeout is not None:
                self._set(lib.sigma_config_set_timeout_ms, _millis("timeout", timeout))
            if connect_timeout is not None:
                self._set(lib.sigma_config_set_connect_timeout_ms, _millis("connect_timeout", connect_timeout))
            if max_attempts is not None:
                if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
                    raise TypeError("max_attempts must be int")
                if not 0 <= max_attempts <= 0xFFFFFFFF:
                    raise ValueError("max_attempts must be between 1 and 10")
                self._set(lib.sigma_config_set_max_attempts, max_attempts)
            if ca_file is not None:
                self._set(lib.sigma_config_set_ca_file, encode("ca_file", os.fspath(ca_file)))
            if not isinstance(basic_auth, bool):
                raise TypeError("basic_auth must be bool")
            if basic_auth:
                self._set(lib.sigma_config_set_basic_auth, 1)
            if refresh_margin is not None:
                self._set(lib.sigma_config_set_refresh_margin_ms, _millis("refresh_margin", refresh_margin))
            if user_agent_suffix is not None:
                self._set(lib.sigma_config_set_user_agent_suffix, encode("user_agent_suffix", user_agent_suffix))
            if token_cache is not None:
                self._set(lib.sigma_config_set_token_cache, encode("token_cache", os.fspath(token_cache)))
            if isinstance(allowed_origins, str):
                raise TypeError("allowed_origins must be a list of origins, not one str")
            for origin in allowed_origins:
                self._set(lib.sigma_config_allow_origin, encode("allowed_origins", origin))
            if subject_token_claims is not None:
                self._set(lib.sigma_config_set_subject_token_claims,
                          encode("subject_token_claims", json.dumps(dict(subject_token_claims))))
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
