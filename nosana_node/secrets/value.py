"""A string that never shows itself: for tokens, keypairs and secret values held in memory.

``str()``, ``repr()`` and f-strings of a :class:`Secret` give ``[MASKED]``; only
:meth:`Secret.reveal` returns the value, so an accidental log line or error message cannot leak it.
"""

from __future__ import annotations

from nosana_node.secrets.masking import MASK, process_masker


class Secret:
    """A secret string; registered with the process masker when created."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        process_masker().add(value)

    def reveal(self) -> str:
        """The value itself: pass it on, never print it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled (it would be written out in clear)")
