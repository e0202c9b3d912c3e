"""The ctypes declarations agree with include/sigma_auth.h, function by function."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

from sigma_auth import _native

HEADER = Path(__file__).resolve().parents[3] / "include" / "sigma_auth.h"

C_TYPES = {
    "sigma_status": ctypes.c_uint32,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "uint16_t": ctypes.c_uint16,
    "int": ctypes.c_int,
    "const char *": ctypes.c_char_p,
    "void": None,
    "void *": ctypes.c_void_p,
    "size_t": ctypes.c_size_t,
    "sigma_event_kind": ctypes.c_uint32,
    "sigma_event_callback": _native.event_callback,
    # An event is read through a raw pointer, valid during the callback only.
    "sigma_event *": _native.event_p,
    "sigma_stats *": ctypes.POINTER(_native.sigma_stats),
    "uint64_t *": ctypes.POINTER(ctypes.c_uint64),
}


def ctype(c: str) -> object:
    c = " ".join(c.replace("*", " * ").split()).replace(" *", " *").replace("* *", "**")
    # A string the library owns and the caller frees (sigma_string_free) is kept
    # as a raw pointer, so ctypes does not copy it into bytes and lose it.
    if c == "char **":
        return ctypes.POINTER(ctypes.c_void_p)
    if c == "char *":
        return ctypes.c_void_p
    c = c.replace("const ", "")
    for name, pointer in (("sigma_config", _native.config_p), ("sigma_token", _native.token_p),
                          ("sigma_client", _native.client_p), ("sigma_error", _native.error_p),
                          ("sigma_login", _native.login_p)):
        # (sigma_token * is declared as c_void_p: see _native.py)
        if c == f"{name} **":
            return ctypes.POINTER(pointer)
        if c == f"{name} *":
            return pointer
    if c == "char *":
        return ctypes.c_char_p
    return C_TYPES[c]


def header_functions() -> dict[str, tuple[object, list[object]]]:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    functions = {}
    for match in re.finditer(r"^([A-Za-z_][\w ]*?\**)\s*\b(sigma_\w+)\(([^)]*)\);", text, flags=re.M):
        restype, name, params = match.groups()
        args = [] if params.strip() in ("", "void") else [
            ctype(re.sub(r"\b\w+$", "", p.strip()).strip()) for p in params.split(",")
        ]
        functions[name] = (ctype(restype.strip()), args)
    return functions


def test_every_header_function_is_declared_identically() -> None:
    declared = header_functions()
    assert len(declared) >= 30
    assert set(declared) == set(_native.SIGNATURES), set(declared) ^ set(_native.SIGNATURES)
    for name, (restype, argtypes) in declared.items():
        want_restype, want_args = _native.SIGNATURES[name]
        assert restype == want_restype, name
        assert argtypes == want_args, name


def header_statuses() -> dict[str, int]:
    text = HEADER.read_text()
    return {name: int(value) for name, value in re.findall(r"^\s*SIGMA_STATUS_(\w+) = (\d+),", text, flags=re.M)}


def test_the_status_enum_is_the_headers_and_every_status_has_its_exception() -> None:
    from sigma_auth import Status, _errors

    statuses = header_statuses()
    assert len(statuses) >= 13 and statuses["OK"] == 0
    assert {s.name: s.value for s in Status} == statuses
    for name, value in statuses.items():
        # The library's own name for each value, too.
        assert _native.lib.sigma_status_name(value).decode() == name
        if value:
            assert _errors._CLASSES[Status(value)].__name__, name
    assert set(_errors._CLASSES) == {s for s in Status if s is not Status.OK}


def test_event_kinds_warnings_and_the_due_bit_come_from_the_library_and_match_the_header() -> None:
    from sigma_auth import _client, _events

    text = HEADER.read_text()
    kinds = {int(v): name for name, v in re.findall(r"^\s*SIGMA_EVENT_(\w+) = (\d+),", text, flags=re.M)}
    assert kinds and _events.KINDS == kinds
    assert _events.WARNINGS == {"REFRESH_FAILED", "RETRY_SCHEDULED", "FALLBACK_TO_CLIENT_CREDENTIALS",
                                "CACHE_BYPASSED", "STORE_UNAVAILABLE"}
    due = re.search(r"#define SIGMA_SERIAL_DUE (\d+)ull", text)
    assert due and _client._DUE == int(due.group(1)) == 1 << 63
