"""Ownership of one C object: idempotent close, safe against use after close.

Calls hold the handle for their duration, so ``close()`` from one thread while
another is inside a call defers the free until that call returns: no use after
free, whatever the order.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Optional, TypeVar

P = TypeVar("P")


class Handle(Generic[P]):
    def __init__(self, pointer: P, free: Callable[[P], None], what: str) -> None:
        self._pointer: Optional[P] = pointer
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    def acquire(self) -> P:
        with self._lock:
            if self._closed or self._pointer is None:
                raise ValueError(f"this {self._what} is closed")
            self._users += 1
            return self._pointer

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            pointer = self._take_if_done()
        if pointer is not None:
            self._free(pointer)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pointer = self._take_if_done()
        if pointer is not None:
            self._free(pointer)

    @property
    def closed(self) -> bool:
        return self._closed

    def _take_if_done(self) -> Optional[P]:
        if self._closed and self._users == 0 and self._pointer is not None:
            pointer, self._pointer = self._pointer, None
            return pointer
        return None


class Managed:
    """Base of the public classes that own a C object (as wasmtime-py's Managed)."""

    _handle: Optional[Handle[Any]] = None

    def close(self) -> None:
        """Frees the C object. Safe to call more than once."""
        if self._handle is not None:
            self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle is None or self._handle.closed

    def __enter__(self: "M") -> "M":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may have torn down the library already.
        try:
            self.close()
        except Exception:
            pass


M = TypeVar("M", bound=Managed)
