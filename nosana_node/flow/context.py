"""What an op sees while it runs: the run environment and the per-op context.

:class:`RunEnv` is shared by every op of a run: settings, store, secret resolver, reporter,
the runner's identity and a :class:`Services` cache where op types keep expensive shared things
(an engine connection) created on first use and closed when the run ends.
:class:`OpContext` adds the op, its resolved arguments, its log and its flow's artifact store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nosana_node.artifacts.store import ArtifactStore
from nosana_node.errors import SecretError
from nosana_node.flow.events import NullReporter, Reporter
from nosana_node.flow.logs import LogSink
from nosana_node.flow.model import Flow, Op, OpState
from nosana_node.flow.owner import RunnerIdentity, current
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.refs import SecretRef, SecretResolver
from nosana_node.settings import RunnerSettings

T = TypeVar("T")


class NoVaultResolver:
    """The default resolver: no vault is configured, so every secret fails cleanly."""

    def resolve(self, ref: SecretRef) -> str:
        raise SecretError(f"no vault configured for secret {ref}")


class Services:
    """Shared objects created on first use (``get``) and closed in reverse order (``close``)."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, name: str, factory: Callable[[], T]) -> T:
        """The service ``name``, created by ``factory`` the first time."""
        if name not in self._items:
            self._items[name] = factory()
        return self._items[name]

    def peek(self, name: str) -> Any | None:
        """The service ``name`` if it was created, else None."""
        return self._items.get(name)

    def close(self) -> None:
        """Close every service that has a ``close`` method (newest first)."""
        items, self._items = list(self._items.values()), {}
        errors: list[BaseException] = []
        for item in reversed(items):
            close = getattr(item, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as exc:  # close them all, then re-raise the first
                    errors.append(exc)
        if errors:
            raise errors[0]


@dataclass
class RunEnv:
    """Everything shared by the ops of one run."""

    settings: RunnerSettings
    store: FlowStore
    secrets: SecretResolver = field(default_factory=NoVaultResolver)
    reporter: Reporter = field(default_factory=NullReporter)
    context: dict[str, str] = field(default_factory=dict)
    services: Services = field(default_factory=Services)
    runner: RunnerIdentity = field(default_factory=current)


@dataclass
class OpContext:
    """One op's view of the run."""

    env: RunEnv
    flow: Flow
    op: Op
    state: OpState
    args: dict[str, Any]
    log: LogSink
    artifacts: ArtifactStore

    @property
    def settings(self) -> RunnerSettings:
        """Shortcut to the run's settings."""
        return self.env.settings
