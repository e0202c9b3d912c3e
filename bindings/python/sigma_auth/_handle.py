"""Ownership of one C object: idempotent close, safe against use after close.

Calls hold the handle for their duration, so ``close()`` from one thread while
another is inside a call defers the free until that call returns: no use after
free, whatever the order.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, TypeVar

P = TypeVar("P")


class Handle(Generic[P]):
    """The pointer to one C object and the calls using it.

    Lock-free on the hot path: ``list.append`` and ``list.pop`` are atomic in
    CPython (with or without the GIL), and the order of the steps below makes
    ``close()`` free the object exactly once, after the last call in flight.
    """

    def __init__(self, pointer: P, free: Callable[[P], None], what: str) -> None:
        self._slot: list[P] = [pointer]  # popped exactly once, by whoever frees
        self._active: list[None] = []  # one entry per call in flight
        self._closed = False
        self._free = free
        self._what = what

    def acquire(self) -> P:
        self._active.append(None)
        if self._closed:
            self.release()
            raise ValueError(f"this {self._what} is closed")
        return self._slot[0]

    def release(self) -> None:
        self._active.pop()
        if self._closed and not self._active:
            self._free_once()

    def close(self) -> None:
        self._closed = True
        if not self._active:
            self._free_once()

    @property
    def closed(self) -> bool:
        return self._closed

    def _free_once(self) -> None:
        try:
            pointer = self._slot.pop()
        except IndexError:
            return  # another thread freed it
        self._free(pointer)


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
