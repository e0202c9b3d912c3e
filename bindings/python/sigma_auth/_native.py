"""Loads libsigma_auth and declares every C function's argtypes and restype.

This is the only module that knows the C signatures; ``tests/test_header.py``
checks them against ``include/sigma_auth.h``. ctypes releases the GIL around
every call into a ``CDLL``, so network calls never block other Python threads.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Optional
from pathlib import Path

LIBRARY_ENV = "SIGMA_AUTH_LIBRARY"


class _Opaque(ctypes.Structure):
    """Base of the opaque C types: only ever used through pointers."""


class sigma_config(_Opaque):
    pass


class sigma_client(_Opaque):
    pass


class sigma_error(_Opaque):
    pass


class sigma_event(_Opaque):
    pass


class sigma_login(_Opaque):
    pass


class sigma_stats(ctypes.Structure):
    """Mirrors the C struct; fields are only ever appended."""

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "tokens_served", "client_credentials_ok", "client_credentials_failed", "refresh_token_ok",
        "refresh_token_failed", "token_exchange_ok", "token_exchange_failed", "background_refreshes", "retries",
        "cache_hits", "invalidations")] + [("last_success_unix_ms", ctypes.c_int64), ("last_failure_unix_ms", ctypes.c_int64)]


config_p = ctypes.POINTER(sigma_config)
# A token is copied into a Python ``Token`` and freed at once, so its address is
# never kept (tokens are told apart by serial number, never by address).
token_p = ctypes.c_void_p
client_p = ctypes.POINTER(sigma_client)
login_p = ctypes.POINTER(sigma_login)
error_p = ctypes.POINTER(sigma_error)
status_t = ctypes.c_uint32
char_p = ctypes.c_char_p
# Events are read through a raw pointer, valid during the callback only.
event_p = ctypes.c_void_p
event_callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, event_p)

# name: (restype, argtypes)
SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "sigma_config_new": (status_t, [char_p, char_p, char_p, ctypes.POINTER(config_p), ctypes.POINTER(error_p)]),
    "sigma_config_from_env": (status_t, [ctypes.POINTER(config_p), ctypes.POINTER(error_p)]),
    "sigma_config_from_login": (status_t, [char_p, ctypes.POINTER(config_p), ctypes.POINTER(error_p)]),
    "sigma_login_begin": (status_t, [char_p, char_p, char_p, ctypes.c_uint64, ctypes.POINTER(login_p),
                                     ctypes.POINTER(error_p)]),
    "sigma_login_authorize_url": (char_p, [login_p]),
    "sigma_login_wait": (status_t, [login_p, ctypes.POINTER(error_p)]),
    "sigma_login_complete": (status_t, [login_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_login_free": (None, [login_p]),
    "sigma_logout": (status_t, [char_p, ctypes.POINTER(error_p)]),
    "sigma_config_free": (None, [config_p]),
    "sigma_config_set_timeout_ms": (status_t, [config_p, ctypes.c_uint64, ctypes.POINTER(error_p)]),
    "sigma_config_set_connect_timeout_ms": (status_t, [config_p, ctypes.c_uint64, ctypes.POINTER(error_p)]),
    "sigma_config_set_max_attempts": (status_t, [config_p, ctypes.c_uint32, ctypes.POINTER(error_p)]),
    "sigma_config_set_ca_file": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_set_basic_auth": (status_t, [config_p, ctypes.c_int, ctypes.POINTER(error_p)]),
    "sigma_config_set_refresh_margin_ms": (status_t, [config_p, ctypes.c_uint64, ctypes.POINTER(error_p)]),
    "sigma_config_set_token_cache": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_set_token_store": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_set_user_agent_suffix": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_base_url": (ctypes.c_void_p, [config_p]),
    "sigma_config_client_id": (ctypes.c_void_p, [config_p]),
    "sigma_config_token_cache": (ctypes.c_void_p, [config_p]),
    "sigma_config_set_language": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_allow_origin": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_set_subject_token_claims": (status_t, [config_p, char_p, ctypes.POINTER(error_p)]),
    "sigma_config_set_event_callback": (status_t, [config_p, event_callback, ctypes.c_void_p, ctypes.POINTER(error_p)]),
    "sigma_event_callback_unregister": (None, [ctypes.c_void_p]),
    "sigma_event_get_kind": (ctypes.c_uint32, [event_p]),
    "sigma_event_kind_name": (char_p, [ctypes.c_uint32]),
    "sigma_event_kind_is_warning": (ctypes.c_int, [ctypes.c_uint32]),
    "sigma_event_grant": (char_p, [event_p]),
    "sigma_event_status": (status_t, [event_p]),
    "sigma_event_http_status": (ctypes.c_uint16, [event_p]),
    "sigma_event_request_id": (char_p, [event_p]),
    "sigma_event_message": (char_p, [event_p]),
    "sigma_event_attempt": (ctypes.c_uint32, [event_p]),
    "sigma_event_wait_us": (ctypes.c_uint64, [event_p]),
    "sigma_event_duration_us": (ctypes.c_uint64, [event_p]),
    "sigma_event_serial": (ctypes.c_uint64, [event_p]),
    "sigma_event_expires_in": (ctypes.c_int64, [event_p]),
    "sigma_event_background": (ctypes.c_int, [event_p]),
    "sigma_client_stats": (status_t, [client_p, ctypes.POINTER(sigma_stats), ctypes.c_size_t, ctypes.POINTER(error_p)]),
    "sigma_token_get": (status_t, [config_p, ctypes.POINTER(token_p), ctypes.POINTER(error_p)]),
    "sigma_token_refresh": (status_t, [config_p, char_p, ctypes.POINTER(token_p), ctypes.POINTER(error_p)]),
    "sigma_token_impersonate": (status_t, [config_p, char_p, char_p, ctypes.POINTER(token_p),
                                          ctypes.POINTER(error_p)]),
    "sigma_token_free": (None, [token_p]),
    "sigma_token_access_token": (char_p, [token_p]),
    "sigma_token_refresh_token": (char_p, [token_p]),
    "sigma_token_type": (char_p, [token_p]),
    "sigma_token_expires_in": (ctypes.c_int64, [token_p]),
    "sigma_token_expires_at": (ctypes.c_int64, [token_p]),
    "sigma_token_serial": (ctypes.c_uint64, [token_p]),
    "sigma_client_new": (status_t, [config_p, ctypes.POINTER(client_p), ctypes.POINTER(error_p)]),
    "sigma_client_token": (status_t, [client_p, ctypes.POINTER(token_p), ctypes.POINTER(error_p)]),
    "sigma_client_cached_token": (ctypes.c_int, [client_p, ctypes.POINTER(token_p)]),
    "sigma_client_token_is_current": (ctypes.c_int, [client_p, token_p]),
    "sigma_client_serial_is_current": (ctypes.c_int, [client_p, ctypes.c_uint64]),
    "sigma_client_serial_word": (ctypes.POINTER(ctypes.c_uint64), [client_p]),
    "sigma_serial_due_bit": (ctypes.c_uint64, []),
    "sigma_client_fresh_until": (ctypes.c_uint64, [client_p, ctypes.c_uint64]),
    "sigma_monotonic_ns": (ctypes.c_uint64, []),
    "sigma_client_invalidate": (None, [client_p, char_p]),
    "sigma_client_invalidate_serial": (None, [client_p, ctypes.c_uint64]),
    "sigma_client_origin_allowed": (ctypes.c_int, [client_p, char_p, char_p, ctypes.c_uint16]),
    "sigma_client_impersonate": (status_t, [client_p, char_p, char_p, ctypes.POINTER(client_p),
                                           ctypes.POINTER(error_p)]),
    "sigma_client_free": (None, [client_p]),
    # The URL is returned as a raw pointer: it is copied, then freed with sigma_string_free.
    "sigma_embed_sign_url": (status_t, [char_p, char_p, char_p, char_p, ctypes.c_uint32,
                                        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(error_p)]),
    "sigma_embed_encrypt_oauth_token": (status_t, [char_p, char_p, ctypes.POINTER(ctypes.c_void_p),
                                                ctypes.POINTER(error_p)]),
    "sigma_string_free": (None, [ctypes.c_void_p]),
    "sigma_error_code": (status_t, [error_p]),
    "sigma_error_message": (char_p, [error_p]),
    "sigma_error_http_status": (ctypes.c_uint16, [error_p]),
    "sigma_error_request_id": (char_p, [error_p]),
    "sigma_error_free": (None, [error_p]),
    "sigma_status_name": (char_p, [ctypes.c_uint32]),
    "sigma_version": (char_p, []),
}


# What cargo names the shared library on this platform.
LIBRARY_NAME = "libsigma_auth.dylib" if sys.platform == "darwin" else "libsigma_auth.so"


def library_path() -> Path:
    """$SIGMA_AUTH_LIBRARY, else the library shipped beside this file."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override)
    return Path(__file__).with_name(LIBRARY_NAME)


def _load() -> ctypes.CDLL:
    path = library_path()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise ImportError(
            f"cannot load the sigma-auth native library from {path} ({exc}); "
            f"reinstall the package or point {LIBRARY_ENV} at libsigma_auth.so"
        ) from exc
    for name, (restype, argtypes) in SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


lib = _load()


def take_string(raw: Optional[int]) -> str:
    """Copies, then frees, a string the library returned for the caller to free
    (sigma_string_free); "" for NULL."""
    if not raw:
        return ""
    try:
        return ctypes.string_at(raw).decode("utf-8", "replace")
    finally:
        lib.sigma_string_free(raw)
