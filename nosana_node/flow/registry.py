"""Op types and the registry the runtime finds them in.

An op type is a subclass of :class:`OpType` with a :attr:`~OpType.name` (``docker/run``); it
checks its arguments (:meth:`OpType.validate`), may prepare before a flow starts
(:meth:`OpType.preflight`, e.g. make sure an image is there) and does its work in
:meth:`OpType.run`, returning an :class:`OpOutcome`. The engine knows no op type by name: the
application assembles an :class:`OpRegistry` (``nosana_node.wiring.op_types``) and hands it to
the runner. Rules for :meth:`OpType.run`: honour ``ctx.cancel`` (stop at once when it fires
and raise :class:`~nosana_node.flow.cancel.Cancelled`); never write outside the op's log, the
flow's artifact store and its own results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from nosana_node.errors import UserInputError
from nosana_node.flow.model import Flow, Op, OpStatus
from nosana_node.flow.results import OpResults, Reason

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext, RunEnv


@dataclass
class OpOutcome:
    """What an op's run produced; the runtime records it in the op's state."""

    status: OpStatus
    exit_code: int | None = None
    results: OpResults = field(default_factory=OpResults)
    error: str | None = None
    reason: Reason | None = None

    @classmethod
    def succeeded(cls, exit_code: int | None = 0, results: OpResults | None = None) -> OpOutcome:
        """A success."""
        return cls(OpStatus.SUCCEEDED, exit_code=exit_code, results=results or OpResults())

    @classmethod
    def failed(
        cls, reason: Reason, error: str, exit_code: int | None = None, results: OpResults | None = None
    ) -> OpOutcome:
        """A failure: its kind and a one-line message."""
        return cls(OpStatus.FAILED, exit_code, results or OpResults(), error, reason)


class OpType:
    """Base class of op types; subclasses set :attr:`name`."""

    name: ClassVar[str] = ""

    def validate(self, args: dict[str, Any]) -> list[str]:
        """Problems with ``args`` found before the flow runs (empty when fine)."""
        return []

    def describe(self, op: Op) -> str:
        """A short human label for progress displays."""
        return op.id

    def preflight(self, op: Op, env: RunEnv) -> None:
        """Prepare before the flow runs; raise a NosanaError to stop the flow before any op runs."""

    def run(self, ctx: OpContext) -> OpOutcome:
        """Execute the op (arguments already resolved in ``ctx.args``)."""
        raise NotImplementedError


class OpRegistry:
    """The op types an application knows, by name.

    ``plugins`` (optional) is called once, the first time a name is not found, and returns more
    op types (e.g. those of installed packages' ``nosana_node.ops`` entry points).
    """

    def __init__(
        self, op_types: Iterable[OpType] = (), plugins: Callable[[], Iterable[OpType]] | None = None
    ) -> None:
        self._types: dict[str, OpType] = {}
        self._plugins = plugins
        for op_type in op_types:
            self.register(op_type)

    def register(self, op_type: OpType) -> None:
        """Add ``op_type`` under its name; a second type with the same name is refused."""
        if not op_type.name:
            raise ValueError(f"op type {type(op_type).__name__} has no name")
        known = self._types.get(op_type.name)
        if known is not None and type(known) is not type(op_type):
            raise ValueError(f"op type {op_type.name!r} is registered twice")
        self._types[op_type.name] = op_type

    def _load_plugins(self) -> None:
        plugins, self._plugins = self._plugins, None
        if plugins is not None:
            for op_type in plugins():
                self.register(op_type)

    def get(self, name: str) -> OpType:
        """The op type ``name``; :class:`UserInputError` when there is none."""
        if name not in self._types:
            self._load_plugins()
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types))
            raise UserInputError(f"unknown op type {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Every op type name."""
        self._load_plugins()
        return sorted(self._types)

    def describe(self, op: Op) -> str:
        """The op's label for displays (its id when its type is unknown)."""
        try:
            return self.get(op.type).describe(op)
        except UserInputError:
            return op.id

    def problems(self, flow: Flow) -> list[str]:
        """Everything that keeps ``flow`` from running: duplicate op ids, unknown op types,
        invalid arguments, dependencies on unknown ops or on ops of a later group."""
        problems: list[str] = []
        seen: set[str] = set()
        group_index: dict[str, int] = {}
        groups: dict[str, int] = {}
        for op in flow.ops:
            if op.id in seen:
                problems.append(f"op {op.id!r}: the id is used twice")
            seen.add(op.id)
            group = op.group if op.group is not None else f"\0{op.id}"
            group_index[op.id] = groups.setdefault(group, len(groups))
        for op in flow.ops:
            try:
                op_type = self.get(op.type)
            except UserInputError as exc:
                problems.append(f"op {op.id!r}: {exc}")
                continue
            problems.extend(f"op {op.id!r} ({op.type}): {p}" for p in op_type.validate(op.args))
            for dep in op.depends_on:
                if dep not in group_index:
                    problems.append(f"op {op.id!r}: depends on {dep!r}, which is not an op of this flow")
                elif dep == op.id:
                    problems.append(f"op {op.id!r}: depends on itself")
                elif group_index[dep] > group_index[op.id]:
                    problems.append(f"op {op.id!r}: depends on {dep!r}, whose group runs later")
        return problems
