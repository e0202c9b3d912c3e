"""Ownership of one C object: idempotent close, safe against use after close.

Calls borrow the handle for their duration (``with handle.borrow() as pointer:``),
so ``close()`` from one thread while another is inside a call defers the free
until that call returns: no use after free, whatever the order.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

P = TypeVar("P")

# Every live handle, so that a child process after fork can forget the calls
# that were running in its parent's other threads (see ``_after_fork``).
_live: "weakref.WeakSet[Handle[Any]]" = weakref.WeakSet()


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
        _live.add(self)

    @contextlib.contextmanager
    def borrow(self) -> Iterator[P]:
        """The pointer, guaranteed not to be freed until the block ends."""
        self._active.append(None)
        try:
            if self._closed:
                raise ValueError(f"this {self._what} is closed")
            yield self._slot[0]
        finally:
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


def _after_fork() -> None:
    # The threads that were inside calls did not follow into the child: their
    # entries would keep close() from ever freeing. The C library gives the
    # child fresh state by itself (fork-safe core).
    for handle in list(_live):
        handle._active.clear()
        if handle._closed:
            handle._free_once()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


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

    def _borrow(self) -> "contextlib.AbstractContextManager[Any]":
        if self._handle is None:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._handle.borrow()

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
