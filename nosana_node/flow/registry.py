"""The op-type registry: how the engine finds the code behind ``docker/run`` and friends.

An op type is a subclass of :class:`OpType` decorated with :func:`op_type`; it checks its
arguments at compile time (:meth:`OpType.validate`), may prepare before a flow starts
(:meth:`OpType.preflight`, e.g. make sure an image is there) and does its work in
:meth:`OpType.run`. The runtime only talks to this interface, so a new op type joins by
registering itself: in a module listed in :data:`BUILTIN_MODULES` or, from another package,
through the ``nosana_node.ops`` entry-point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from nosana_node.errors import UserInputError
from nosana_node.flow.model import Op, OpStatus

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext, RunEnv

BUILTIN_MODULES = ("nosana_node.docker.run_op", "nosana_node.artifacts.checkout")
ENTRY_POINT_GROUP = "nosana_node.ops"


@dataclass
class OpOutcome:
    """What an op's run produced; the runtime records it in the op's state."""

    status: OpStatus
    exit_code: int | None = None
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def failed(cls, error: str, exit_code: int | None = None, **results: Any) -> OpOutcome:
        """A failure with a one-line reason."""
        return cls(OpStatus.FAILED, exit_code=exit_code, error=error, results=dict(results))


class OpType:
    """Base class of op types; subclasses set :attr:`name` through :func:`op_type`."""

    name: ClassVar[str] = ""

    def validate(self, args: dict[str, Any]) -> list[str]:
        """Problems with ``args`` found at compile time (empty when fine)."""
        return []

    def describe(self, op: Op) -> str:
        """A short human label for progress displays."""
        return op.id

    def preflight(self, op: Op, env: RunEnv) -> None:
        """Prepare before the flow runs; raise a NosanaError to stop the flow before any op runs."""

    def run(self, ctx: OpContext) -> OpOutcome:
        """Execute the op (arguments already resolved in ``ctx.args``)."""
        raise NotImplementedError


_registry: dict[str, OpType] = {}
_loaded: set[str] = set()

T = TypeVar("T", bound=type[OpType])


def op_type(name: str) -> Callable[[T], T]:
    """Class decorator: register an :class:`OpType` subclass under ``name``."""

    def register(cls: T) -> T:
        if name in _registry and type(_registry[name]) is not cls:
            raise RuntimeError(f"op type {name!r} is registered twice")
        cls.name = name
        _registry[name] = cls()
        return cls

    return register


def _load(plugins: bool) -> None:
    """Import the built-in op modules, then (only if asked) the entry-point plugins."""
    if "builtin" not in _loaded:
        _loaded.add("builtin")
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    if plugins and "plugins" not in _loaded:
        _loaded.add("plugins")
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()


def get(name: str) -> OpType:
    """The registered op type ``name``; :class:`UserInputError` when there is none."""
    if name not in _registry:
        _load(plugins=False)
    if name not in _registry:
        _load(plugins=True)
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise UserInputError(f"unknown op type {name!r} (known: {known})") from None


def names() -> list[str]:
    """Every registered op type name."""
    _load(plugins=True)
    return sorted(_registry)
