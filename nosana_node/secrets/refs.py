"""Symbolic secret references and the interface that resolves them.

A pipeline names secrets in four ways (see the pipeline spec): ``secrets: [NAME]``, an
environment value ``{type: nos/vault, value: path#key}`` (or ``path`` alone), the original
node's ``{type: nosana/secret, endpoint: URL, value: NAME}`` (a :class:`SecretRef` with an
``endpoint``: the name is looked up in the node's vault, or at the endpoint when the operator
allows it), and the same forms inside ``image_pull_secrets``. All become a :class:`SecretRef`.
A flow stores only references; a :class:`SecretResolver` turns one into a value in memory just
before the container is created.
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
    #: set for a ``nosana/secret`` (its endpoint URL, possibly empty): ``path`` is then its name
    endpoint: str | None = None

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``path#key`` or ``path``."""
        path, _, key = text.partition("#")
        return cls(path=path.strip("/"), key=key or None)

    @property
    def name(self) -> str:
        """``path#key`` (or ``path``): what the vault is asked for."""
        return f"{self.path}#{self.key}" if self.key else self.path

    def __str__(self) -> str:
        if self.endpoint is None:
            return self.name
        return f"{self.name} (nosana/secret of {self.endpoint or 'no endpoint'})"

    def to_json(self) -> dict[str, Any]:
        """The serialised form stored in a flow: a reference, never a value."""
        if self.endpoint is None:
            return {"$secret": self.name}
        return {"$secret": self.name, "endpoint": self.endpoint}

    @staticmethod
    def is_json(obj: object) -> bool:
        """True when ``obj`` is the serialised form produced by :meth:`to_json`."""
        if not isinstance(obj, dict) or not isinstance(obj.get("$secret"), str):
            return False
        keys = set(obj)
        return keys == {"$secret"} or (keys == {"$secret", "endpoint"} and isinstance(obj["endpoint"], str))

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SecretRef:
        """Inverse of :meth:`to_json`."""
        if "endpoint" in obj:
            return cls(path=obj["$secret"], endpoint=obj["endpoint"])
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
