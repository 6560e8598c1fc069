"""What an op sees while it runs: the run environment and the per-op context.

:class:`RunEnv` is shared by every op of a run: settings, store, secret resolver,
reporter, the runner's identity, the run's cancel token and clock, the mask scope of the flow's
secrets, and a :class:`Services` cache where op types keep expensive shared things (an engine
connection) created on first use and closed when the run ends. Ops of one run may execute at
the same time in several threads: everything here is safe to share.
:class:`OpContext` adds the op, its resolved arguments, its log and its flow's artifact store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nosana_node.artifacts.store import ArtifactStore
from nosana_node.clock import SYSTEM_CLOCK, Clock
from nosana_node.errors import SecretError
from nosana_node.flow.cancel import CancelToken
from nosana_node.flow.events import NullReporter, Reporter
from nosana_node.flow.logs import LogSink
from nosana_node.flow.model import Flow, Op, OpState
from nosana_node.flow.owner import RunnerIdentity, current
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.masking import MaskScope, process_masker
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
        self._lock = threading.RLock()

    def get(self, name: str, factory: Callable[[], T]) -> T:
        """The service ``name``, created by ``factory`` the first time (once, whatever the threads)."""
        with self._lock:
            if name not in self._items:
                self._items[name] = factory()
            return self._items[name]

    def close(self) -> None:
        """Close every service that has a ``close`` method (newest first)."""
        with self._lock:
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
    clock: Clock = SYSTEM_CLOCK
    cancel: CancelToken = field(default_factory=CancelToken)
    masker: MaskScope = field(default_factory=process_masker().scope)


@dataclass
class OpContext:
    """One op's view of the run.

    ``op_cancel``: the op's own token (a child of the run's: cancelled with it, or alone when the
    op is no longer needed); ``on_ready``: what :meth:`ready` tells the runtime.
    """

    env: RunEnv
    flow: Flow
    op: Op
    state: OpState
    args: dict[str, Any]
    log: LogSink
    artifacts: ArtifactStore
    op_cancel: CancelToken | None = None
    on_ready: Callable[[], None] | None = None

    def ready(self) -> None:
        """Say that the op is ready while it goes on running (its dependents may start)."""
        if self.on_ready is not None:
            self.on_ready()

    @property
    def settings(self) -> RunnerSettings:
        """Shortcut to the run's settings."""
        return self.env.settings

    @property
    def cancel(self) -> CancelToken:
        """The op's cancel token (the run's, when the op has none of its own)."""
        return self.op_cancel or self.env.cancel
