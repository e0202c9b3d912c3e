"""``Secret``: holds a client secret or token so that no text form shows it.

The client secret and tokens are wrapped the moment they enter this package,
so a traceback formatted with its locals (``pytest --showlocals``, Sentry,
``traceback.TracebackException(..., capture_locals=True)``) shows
``[redacted]`` in every frame of ours.
"""

from __future__ import annotations

from typing import NoReturn, Union

REDACTED = "[redacted]"


class Secret:
    """A secret value whose ``repr``, ``str`` and ``format`` are ``[redacted]``.

    Pass one anywhere this package takes a secret (``Config(client_secret=...)``)
    to keep it out of your own frames too; ``reveal()`` returns the text.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Union[str, "Secret"]) -> None:
        # Never raises: a frame that wraps a secret must not fail while holding it.
        self._value: object = value._value if isinstance(value, Secret) else value

    def reveal(self) -> str:
        """The secret itself, for putting it where it belongs."""
        if not isinstance(self._value, str):
            raise TypeError(f"a secret must be str, not {type(self._value).__name__}")
        return self._value

    def _encode(self, name: str) -> bytes:
        """NUL-terminated UTF-8 for the C library, with Python's own exceptions for
        the wrong type (TypeError) or an unrepresentable value (ValueError)."""
        if not isinstance(self._value, str):
            raise TypeError(f"{name} must be str, not {type(self._value).__name__}")
        if "\0" in self._value:
            raise ValueError(f"{name} must not contain NUL characters")
        try:
            return self._value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{name} is not valid UTF-8 (lone surrogate)") from None

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __reduce__(self) -> NoReturn:
        raise TypeError("a sigma_auth.Secret is not picklable")


def hide(value: Union[str, Secret]) -> Secret:
    """The first thing a function taking a secret does with it."""
    return value if isinstance(value, Secret) else Secret(value)
