"""The vault interface: read, write, list and delete secrets; resolve secret references.

A backend implements the ``_fetch``/``_store``/``_list``/``_remove`` primitives and raises
:class:`Failure` with a reason (never a value); :class:`Vault` turns that into a
:class:`~nosana_node.errors.SecretError` naming the reference or path. Values are fetched per
call; nothing is kept unless a cache TTL is configured (and expired entries are dropped).

Masking: :meth:`Vault.resolve` (what a flow calls, for one op) leaves registration to its caller,
who registers the value in the flow's mask scope, so the values of a job are forgotten with it;
:meth:`Vault.read` and :meth:`Vault.write` (commands) register what they see with the process
masker.
"""

from __future__ import annotations

import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from nosana_node.errors import SecretError, UserInputError
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretRef

#: A secret's content: one value, or a map of keys to values.
Data = str | dict[str, str]

_SEGMENT = re.compile(r"^[A-Za-z0-9_.@+=,:-]+$")


class Failure(Exception):
    """A backend could not do what was asked; ``reason`` completes "secret <ref>: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReadOnlyError(UserInputError):
    """A write to a read-only backend."""


def check_path(path: str, what: str) -> str:
    """A secret path without leading/trailing slashes; refuses empty, ``.``/``..`` and odd segments."""
    clean = path.strip("/")
    segments = clean.split("/")
    if not clean or any(s in ("", ".", "..") or not _SEGMENT.match(s) for s in segments):
        raise SecretError(
            f"{what}: invalid secret path {path!r} (segments of letters, digits and _ . - @ + = , : "
            "separated by /; no empty, . or .. segments)"
        )
    return clean


def as_text(value: Any) -> str:
    """A secret value as the string a container sees (JSON for non-strings)."""
    return value if isinstance(value, str) else json.dumps(value)


class Vault(ABC):
    """A secret backend. Implements :class:`~nosana_node.secrets.refs.SecretResolver`."""

    #: writes (put, rm) are refused
    read_only = False
    #: reads of an older version are possible
    versioned = False

    def __init__(self, cache_ttl: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache_ttl = cache_ttl
        self.clock = clock  # seconds, for the cache TTL and a token's TTL (tests give their own)
        self._cache: dict[str, tuple[float, Data]] = {}
        self._cache_lock = threading.Lock()

    # -- what a backend provides ----------------------------------------------------------------

    @abstractmethod
    def describe(self) -> str:
        """Where the secrets are, for messages (e.g. ``openbao http://host:8200, kv v2 secret/``)."""

    @abstractmethod
    def _fetch(self, path: str, version: int | None) -> Data:
        """The content at ``path``; raises :class:`Failure`."""

    def _store(self, path: str, data: dict[str, str]) -> int | None:
        raise Failure("writes are not supported")

    def _list(self, prefix: str) -> list[str]:
        raise Failure("listing is not supported")

    def _remove(self, path: str, all_versions: bool) -> None:
        raise Failure("deletes are not supported")

    def close(self) -> None:  # noqa: B027 - a backend without connections has nothing to release
        """Release connections."""

    def ping(self) -> str:
        """What the backend is, once it answered and accepted the node's credentials (raises
        :class:`Failure` otherwise); a backend without a server has nothing to ask."""
        return self.describe()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the interface ---------------------------------------------------------------------------

    def resolve(self, ref: SecretRef) -> str:
        """The value of ``ref``, fetched now (or from the TTL cache); the caller registers it with
        its mask scope."""
        subject = f"secret {ref}"
        path = check_path(ref.path, subject)
        data = self._get(path, None, subject)
        if isinstance(data, str):
            if ref.key:
                raise SecretError(f"{subject}: {path} holds a single value, not keys (drop #{ref.key})")
            return data
        if ref.key is not None:
            if ref.key not in data:
                keys = ", ".join(sorted(data)) or "none"
                raise SecretError(f"{subject}: no key {ref.key!r} at {path} (keys: {keys})")
            return data[ref.key]
        if len(data) == 1:
            return next(iter(data.values()))
        keys = ", ".join(sorted(data)) or "none"
        raise SecretError(f"{subject}: {path} holds {len(data)} keys ({keys}); name one as {path}#KEY")

    def read(self, path: str, version: int | None = None) -> Data:
        """The content at ``path`` (values registered for masking)."""
        path = check_path(path, "read")
        if version is not None and not self.versioned:
            raise SecretError(f"{path}: {self.describe()} keeps no versions")
        data = self._get(path, version, path)
        for value in [data] if isinstance(data, str) else data.values():
            process_masker().add(value)
        return data

    def write(self, path: str, data: dict[str, str]) -> int | None:
        """Store ``data`` at ``path`` (replacing it); returns the new version when there is one."""
        self._writable("put")
        path = check_path(path, "put")
        for value in data.values():
            process_masker().add(value)
        try:
            version = self._store(path, data)
        except Failure as f:
            raise SecretError(f"{path}: {f.reason}") from None
        self._forget(path)
        return version

    def list(self, prefix: str = "") -> list[str]:
        """Names under ``prefix`` (sub-folders end with ``/``)."""
        clean = check_path(prefix, "list") if prefix.strip("/") else ""
        try:
            return sorted(self._list(clean))
        except Failure as f:
            raise SecretError(f"{clean or '/'}: {f.reason}") from None

    def delete(self, path: str, all_versions: bool = False) -> None:
        """Delete the secret at ``path`` (its latest version; every version with ``all_versions``)."""
        self._writable("rm")
        path = check_path(path, "rm")
        try:
            self._remove(path, all_versions)
        except Failure as f:
            raise SecretError(f"{path}: {f.reason}") from None
        self._forget(path)

    # -- helpers ---------------------------------------------------------------------------------

    def _writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"vault {action}: {self.describe()} is read-only; set secrets in config.edn "
                "(:secrets, with #env or #file) or use :vault {:backend :openbao}"
            )

    def _get(self, path: str, version: int | None, subject: str) -> Data:
        use_cache = self.cache_ttl > 0 and version is None
        if use_cache:
            with self._cache_lock:
                hit = self._cache.get(path)
            if hit is not None and hit[0] > self.clock():
                return hit[1]
        try:
            data = self._fetch(path, version)
        except Failure as f:
            raise SecretError(f"{subject}: {f.reason}") from None
        if use_cache:
            now = self.clock()
            with self._cache_lock:
                for stale in [p for p, (until, _) in self._cache.items() if until <= now]:
                    del self._cache[stale]
                self._cache[path] = (now + self.cache_ttl, data)
        return data

    def _forget(self, path: str) -> None:
        with self._cache_lock:
            self._cache.pop(path, None)
