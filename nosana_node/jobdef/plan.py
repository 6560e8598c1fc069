"""The execution plan of a job definition: groups in order, and who waits for whom.

Rules (as the official node runs them): an op's group is ``execution.group``, else its own id;
groups run one after the other in order of first appearance; the ops of a group start together,
except that an op with ``depends_on`` starts once those ops (of the same group) are ready. An op's
results are known when it ends, so only ops of earlier groups can be read through
``%%ops.<id>.results.<key>%%``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nosana_node.jobdef.schema import JobDefinition


@dataclass(frozen=True)
class Group:
    """One group: its name and its op ids, in file order."""

    name: str
    ops: tuple[str, ...]


@dataclass(frozen=True)
class ExecutionPlan:
    """Groups in run order and each op's dependencies."""

    groups: tuple[Group, ...]
    depends_on: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def group_index(self, op_id: str) -> int:
        """Position of ``op_id``'s group in run order (``KeyError`` for an unknown op)."""
        for index, group in enumerate(self.groups):
            if op_id in group.ops:
                return index
        raise KeyError(op_id)

    def group_of(self, op_id: str) -> Group:
        """The group ``op_id`` belongs to."""
        return self.groups[self.group_index(op_id)]

    def ends_before(self, earlier: str, later: str) -> bool:
        """Whether op ``earlier`` has ended by the time op ``later`` starts (an earlier group)."""
        return self.group_index(earlier) < self.group_index(later)

    def ready_before(self, earlier: str, later: str) -> bool:
        """Whether ``earlier`` is done or ready when ``later`` starts (earlier group, or a dependency)."""
        return self.ends_before(earlier, later) or earlier in self.dependencies(later)

    def dependencies(self, op_id: str) -> set[str]:
        """Every op ``op_id`` waits for, directly or through others."""
        seen: set[str] = set()
        todo = list(self.depends_on.get(op_id, ()))
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo.extend(self.depends_on.get(dep, ()))
        return seen


def build_plan(definition: JobDefinition) -> ExecutionPlan:
    """The plan of ``definition`` (the first op of a repeated id counts)."""
    order: dict[str, list[str]] = {}
    depends: dict[str, tuple[str, ...]] = {}
    for op in definition.ops:
        if op.id in depends:
            continue
        order.setdefault(op.group, []).append(op.id)
        depends[op.id] = tuple(op.depends_on)
    groups = tuple(Group(name, tuple(ids)) for name, ids in order.items())
    return ExecutionPlan(groups=groups, depends_on=depends)


def waits_for(definition: JobDefinition) -> dict[str, list[str]]:
    """Whom each op waits for (to be ready) before it starts, as the node runs it.

    ``depends_on`` names the ops an op waits for; on an op with ``stop_if_dependent_stops`` it
    names the ops that op *serves* instead: they wait for it, and it is stopped once they have
    all ended (so a server is up before its clients start, and goes when they are done).
    """
    waits: dict[str, list[str]] = {}
    for op in definition.ops:
        waits.setdefault(op.id, [])
    for op in definition.ops:
        serves = bool(op.execution and op.execution.stop_if_dependent_stops)
        for dep in op.depends_on:
            if dep not in waits or dep == op.id:
                continue
            if serves:
                if op.id not in waits[dep]:
                    waits[dep].append(op.id)
            elif dep not in waits[op.id]:
                waits[op.id].append(dep)
    return waits


def find_cycle(depends_on: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, …, a]``, or ``None``; unknown ids are ignored."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in depends_on.get(node, ()):
            if dep not in depends_on or dep == node:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in depends_on:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
