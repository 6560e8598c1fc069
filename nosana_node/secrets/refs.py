"""Symbolic secret references and the interface that resolves them.

A pipeline names secrets in three ways (see the pipeline spec): ``secrets: [NAME]``, an
environment value ``{type: nos/vault, value: path#key}`` (or ``path`` alone), and the same form
inside ``image_pull_secrets``. All become a :class:`SecretRef`. A flow stores only references;
a :class:`SecretResolver` turns one into a value in memory just before the container is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

REF_TYPE = "nos/vault"


@dataclass(frozen=True)
class SecretRef:
    """A reference to one secret value: a vault path and, optionally, a key inside it."""

    path: str
    key: str | None = None

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``path#key`` or ``path``."""
        path, _, key = text.partition("#")
        return cls(path=path.strip("/"), key=key or None)

    def __str__(self) -> str:
        return f"{self.path}#{self.key}" if self.key else self.path

    def to_json(self) -> dict[str, Any]:
        """The serialised form stored in a flow: a reference, never a value."""
        return {"$secret": str(self)}

    @staticmethod
    def is_json(obj: object) -> bool:
        """True when ``obj`` is the serialised form produced by :meth:`to_json`."""
        return isinstance(obj, dict) and set(obj) == {"$secret"} and isinstance(obj["$secret"], str)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SecretRef:
        """Inverse of :meth:`to_json`."""
        return cls.parse(obj["$secret"])


class SecretResolver(Protocol):
    """Resolves secret references to values, in memory, at the moment an op starts.

    Implementations raise :class:`nosana_node.errors.SecretError` naming the reference (never a
    value) when the secret is missing, denied or the backend is unreachable. The caller registers
    each value it gets with its mask scope (a flow's resolver does, before using it).
    """

    def resolve(self, ref: SecretRef) -> str:
        """Return the value of ``ref``."""
        ...
