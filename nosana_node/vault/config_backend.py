"""The config backend: secrets from the ``:secrets`` map of the configuration (read-only).

Values come from the file as the operator wrote them, usually ``#env`` or ``#file``; a path maps
to one value or to a map of keys::

    :secrets {"db/password" #env DB_PASSWORD
              "registry" {:username "ci" :password #file "/etc/nosana/registry-password"}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nosana_node.errors import SecretError
from nosana_node.secrets.refs import SecretRef
from nosana_node.secrets.value import Secret
from nosana_node.vault.base import Data, Failure, Vault

_UNSET = "not set in config (its value is nil, e.g. an unset #env variable)"


class ConfigVault(Vault):
    """Secrets held in the loaded configuration."""

    read_only = True

    def __init__(self, secrets: dict[str, Any], file: Path | None = None, cache_ttl: float = 0.0) -> None:
        super().__init__(cache_ttl)
        self._secrets = {k.strip("/"): v for k, v in secrets.items()}
        self._file = file

    def describe(self) -> str:
        return f"the config backend ({self._file or 'no config file'})"

    def _fetch(self, path: str, version: int | None) -> Data:
        if path not in self._secrets:
            raise Failure(f"not found in the :secrets map of {self.describe()}")
        entry = self._secrets[path]
        if isinstance(entry, dict):
            return {k: _reveal(v) for k, v in entry.items() if v is not None}
        if entry is None:
            raise Failure(_UNSET)
        return _reveal(entry)

    def resolve(self, ref: SecretRef) -> str:
        entry = self._secrets.get(ref.path.strip("/"))
        if isinstance(entry, dict) and ref.key is not None and ref.key in entry and entry[ref.key] is None:
            raise SecretError(f"secret {ref}: {_UNSET}")
        return super().resolve(ref)

    def _list(self, prefix: str) -> list[str]:
        names: set[str] = set()
        start = f"{prefix}/" if prefix else ""
        for path in self._secrets:
            if path.startswith(start):
                head, slash, _ = path[len(start) :].partition("/")
                names.add(head + slash)
        return list(names)


def _reveal(value: Any) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)
