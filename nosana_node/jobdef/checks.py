"""Rules that span a job definition beyond its shape: ids, dependencies, literals, ports, volumes.

Each rule yields problems at the path they concern. Errors are what the official validator or the
official node refuses (repeated ids, ``stop_if_dependent_stops`` without ``depends_on``,
overlapping ports, dependencies across groups), and what would make the job fail once it runs
(a literal naming an op, result or variable that does not exist or is not known yet, a cycle, an
unknown volume, a port out of range). Warnings are what ``@nosana/sdk`` accepts but the stricter
``@nosana/types`` refuses, and oddities worth a look (a ``results`` regex that does not compile:
the official examples include one on purpose, and the job still runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from nosana_node.image_reference import check_reference
from nosana_node.jobdef import literals
from nosana_node.jobdef.plan import ExecutionPlan, find_cycle, waits_for
from nosana_node.jobdef.regex import RegexError, compile_js
from nosana_node.jobdef.schema import (
    LITERAL_STRING,
    ExposedPort,
    HttpHealthCheck,
    JobDefinition,
    ResultSpec,
    RunOp,
    S3Resource,
    VolumeOp,
    port_range,
)
from nosana_node.pipeline.loader import Document, Path_, render_path
from nosana_node.pipeline.problems import Problem, suggest

_WHITESPACE = re.compile(r"\s")
_CUDA = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")
_KNOWN_REQUIREMENTS = ("required_vram", "vram_total_mb", "required_cuda")


@dataclass
class Findings:
    """Errors and warnings, each a positioned :class:`Problem`."""

    doc: Document
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def _problem(self, path: Path_, message: str, key: bool) -> Problem:
        return Problem(self.doc.file, self.doc.mark(path, key=key), render_path(path), message)

    def error(self, path: Path_, message: str, key: bool = False) -> None:
        """Record an error at ``path``."""
        self.errors.append(self._problem(path, message, key))

    def warn(self, path: Path_, message: str, key: bool = False) -> None:
        """Record a warning at ``path``."""
        self.warnings.append(self._problem(path, message, key))


def check(doc: Document, definition: JobDefinition, plan: ExecutionPlan) -> Findings:
    """Every cross-op problem of a definition that has the right shape."""
    found = Findings(doc)
    _document(found, definition)
    _ids(found, definition)
    _execution(found, definition, plan)
    _volumes(found, definition, plan)
    _literals(found, definition, plan)
    _images(found, definition)
    for i, op in enumerate(definition.ops):
        if isinstance(op, RunOp):
            _run_args(found, i, op)
        _results(found, i, op)
    return found


def _document(found: Findings, definition: JobDefinition) -> None:
    if definition.version != "0.1":
        found.warn(
            ("version",),
            f"version {definition.version!r}: the format is '0.1' (@nosana/types refuses others)",
        )
    if not definition.ops:
        found.warn(("ops",), "no ops: nothing will run")
    meta = definition.meta
    requirements = meta.system_requirements if meta else None
    if requirements is None:
        return
    base: Path_ = ("meta", "system_requirements")
    for key in requirements.model_extra or {}:
        found.warn(
            (*base, key), f"unknown requirement {key!r}{suggest(key, _KNOWN_REQUIREMENTS)}; ignored", key=True
        )
    for key in ("required_vram", "vram_total_mb"):
        value = getattr(requirements, key)
        if value is not None and value < 0:
            found.error((*base, key), f"must not be negative, got {value}")
    cuda = requirements.required_cuda
    versions = [cuda] if isinstance(cuda, str) else list(cuda or [])
    for j, version in enumerate(versions):
        if not _CUDA.match(version):
            path = (*base, "required_cuda") if isinstance(cuda, str) else (*base, "required_cuda", j)
            found.error(path, f"expected a CUDA version like '12.8', got {version!r}")


def _ids(found: Findings, definition: JobDefinition) -> None:
    first: dict[str, int] = {}
    for i, op in enumerate(definition.ops):
        path = ("ops", i, "id")
        if not op.id.strip():
            found.error(path, "must not be empty")
            continue
        if op.id in first:
            line = found.doc.mark(("ops", first[op.id], "id")).line
            found.error(path, f"duplicate op id {op.id!r} (first used on line {line})")
            continue
        first[op.id] = i
        if _WHITESPACE.search(op.id):
            found.warn(
                path,
                f"op id {op.id!r} contains whitespace: literals cannot name it (@nosana/types refuses it)",
            )


def _execution(found: Findings, definition: JobDefinition, plan: ExecutionPlan) -> None:
    ids = [op.id for op in definition.ops]
    for i, op in enumerate(definition.ops):
        execution = op.execution
        if execution is None:
            continue
        base: Path_ = ("ops", i, "execution")
        if execution.stop_if_dependent_stops is not None and execution.depends_on is None:
            found.error(
                (*base, "stop_if_dependent_stops"), "only allowed together with 'depends_on'", key=True
            )
        for j, dep in enumerate(execution.depends_on or []):
            path = (*base, "depends_on", j)
            if dep == op.id:
                found.error(path, f"op {op.id!r} cannot depend on itself")
            elif dep not in ids:
                found.error(path, f"no op with id {dep!r}{suggest(dep, ids)}")
            elif definition.op(dep).group != op.group:
                found.error(
                    path,
                    f"{dep!r} is in group {definition.op(dep).group!r}, not {op.group!r}: "
                    "dependencies must be in the same group (groups already run in order)",
                )
    cycle = find_cycle(plan.depends_on) or find_cycle({k: tuple(v) for k, v in waits_for(definition).items()})
    if cycle:
        i = ids.index(cycle[0])
        found.error(("ops", i, "execution", "depends_on"), f"dependency cycle: {' → '.join(cycle)}")


def _volumes(found: Findings, definition: JobDefinition, plan: ExecutionPlan) -> None:
    makers: dict[str, str] = {}
    for i, op in enumerate(definition.ops):
        if isinstance(op, VolumeOp):
            if op.args.name in makers:
                found.error(
                    ("ops", i, "args", "name"),
                    f"volume {op.args.name!r} is already made by op {makers[op.args.name]!r}",
                )
            makers.setdefault(op.args.name, op.id)
    for i, op in enumerate(definition.ops):
        if not isinstance(op, RunOp):
            continue
        for j, volume in enumerate(op.args.volumes or []):
            base: Path_ = ("ops", i, "args", "volumes", j)
            maker = makers.get(volume.name)
            if maker is None:
                found.error(
                    (*base, "name"),
                    f"no container/create-volume op makes {volume.name!r}{suggest(volume.name, makers)}",
                )
            elif not plan.ready_before(maker, op.id):
                found.error(
                    (*base, "name"),
                    f"volume {volume.name!r} is made by op {maker!r}, which does not run before {op.id!r} "
                    "(put it in an earlier group)",
                )
            if not volume.dest.startswith("/") and "%%" not in volume.dest:
                found.error((*base, "dest"), f"must be an absolute path, got {volume.dest!r}")


def _literals(found: Findings, definition: JobDefinition, plan: ExecutionPlan) -> None:
    data = found.doc.data
    ops = definition.ops
    ids = [op.id for op in ops]
    variables = definition.variables
    sources: list[tuple[Path_, object, str | None]] = []
    if isinstance(data.get("global"), dict):
        for key in ("image", "entrypoint", "env", "work_dir"):
            if key in data["global"]:
                sources.append((("global", key), data["global"][key], None))
    for i, op in enumerate(ops):
        sources.append((("ops", i, "args"), data["ops"][i]["args"], op.id))
    for base, value, reader in sources:
        for path, ref in literals.walk(value, base):
            message = _literal_problem(ref, reader, ids, variables, definition, plan)
            if message:
                found.error(path, message)


def _literal_problem(
    ref: literals.LiteralRef,
    reader: str | None,
    ids: list[str],
    variables: dict[str, str],
    definition: JobDefinition,
    plan: ExecutionPlan,
) -> str | None:
    if ref.kind == "unknown":
        known = (
            "%%global.job|host|project%%, %%global.variables.NAME%%, %%ops.ID.host%%, %%ops.ID.results.KEY%%"
        )
        return f"unknown literal {ref.text!r} (known: {known})"
    if ref.kind == "variable" and ref.name not in variables:
        return f"{ref.text}: no global variable {ref.name!r}{suggest(ref.name, variables)}"
    if ref.kind not in ("op-host", "op-result"):
        return None
    if ref.op not in ids:
        return f"{ref.text}: no op with id {ref.op!r}{suggest(ref.op, ids)}"
    if ref.kind == "op-host":
        return None
    target = definition.op(ref.op)
    keys = list(target.results or {})
    if ref.name not in keys:
        have = f" (it has: {', '.join(keys)})" if keys else " (it declares no results)"
        return f"{ref.text}: op {ref.op!r} has no result {ref.name!r}{suggest(ref.name, keys) or have}"
    if reader is None:
        return f"{ref.text}: op results cannot be used in 'global' (no op has ended when the job starts)"
    if not plan.ends_before(ref.op, reader):
        where = "the same group" if plan.group_index(ref.op) == plan.group_index(reader) else "a later group"
        return (
            f"{ref.text}: op {ref.op!r} runs in {where} as {reader!r}; its results are known only "
            "when it ends (put it in an earlier group)"
        )
    return None


def _images(found: Findings, definition: JobDefinition) -> None:
    """An image reference the engine cannot parse: a warning (``@nosana/sdk`` accepts it), refused at run."""
    images: list[tuple[Path_, str | None]] = [
        (("global", "image"), definition.global_.image if definition.global_ else None)
    ]
    images += [
        (("ops", i, "args", "image"), op.args.image)
        for i, op in enumerate(definition.ops)
        if isinstance(op, RunOp)
    ]
    for path, image in images:
        problem = None if image is None or "%%" in image else check_reference(image)
        if problem:
            found.warn(path, f"{problem}; the engine refuses it, so the job cannot run")


def _run_args(found: Findings, i: int, op: RunOp) -> None:
    base: Path_ = ("ops", i, "args")
    args = op.args
    if args.output is not None:
        found.warn((*base, "output"), "'output' is ignored by the node (@nosana/types refuses it)", key=True)
    if isinstance(args.expose, list):
        _ports(found, (*base, "expose"), args.expose)
        for j, item in enumerate(args.expose):
            probes = (item.health_checks or []) if isinstance(item, ExposedPort) else []
            for k, probe in enumerate(probes):
                status = probe.expected_status if isinstance(probe, HttpHealthCheck) else 200
                if not (isinstance(status, int) and 100 <= status <= 599):
                    path = (*base, "expose", j, "health_checks", k, "expected_status")
                    found.error(path, f"expected an HTTP status (100-599), got {status}")
    for j, resource in enumerate(args.resources or []):
        path = (*base, "resources", j)
        if isinstance(resource, S3Resource) and resource.url is None:
            found.error(path, "an S3 resource needs 'url' (or 'bucket' with 'url', or 'buckets')")
        target = getattr(resource, "target", None)
        if isinstance(target, str) and not target.startswith("/") and "%%" not in target:
            found.error((*path, "target"), f"must be an absolute path, got {target!r}")


def _port_items(expose: list[object]) -> Iterator[tuple[int, int | tuple[int, int]]]:
    for j, item in enumerate(expose):
        port = item.port if isinstance(item, ExposedPort) else item
        if isinstance(port, int):
            yield j, port
        elif isinstance(port, str) and not LITERAL_STRING.match(port):
            bounds = port_range(port)
            if bounds:
                yield j, bounds


def _ports(found: Findings, base: Path_, expose: list[object]) -> None:
    """The SDK's ``UniqueExposedPorts`` rule, with the offending entries named."""
    numbers: dict[int, int] = {}
    ranges: list[tuple[int, tuple[int, int]]] = []
    for j, port in _port_items(expose):
        path = (*base, j)
        if isinstance(port, int):
            if port in numbers:
                found.error(
                    path, f"port {port} is exposed twice (also at {render_path((*base, numbers[port]))})"
                )
            numbers.setdefault(port, j)
            continue
        start, end = port
        for k, (other_start, other_end) in ranges:
            if start <= other_end and end >= other_start:
                found.error(
                    path,
                    f"port range {start}-{end} overlaps {other_start}-{other_end} "
                    f"(at {render_path((*base, k))})",
                )
        ranges.append((j, port))
    for port, j in numbers.items():
        for k, (start, end) in ranges:
            if start <= port <= end:
                found.error(
                    (*base, j), f"port {port} falls within range {start}-{end} (at {render_path((*base, k))})"
                )


def _results(found: Findings, i: int, op: RunOp | VolumeOp) -> None:
    for key, value in (op.results or {}).items():
        pattern = value.regex if isinstance(value, ResultSpec) else value
        path: Path_ = ("ops", i, "results", key)
        if isinstance(value, ResultSpec):
            path = (*path, "regex")
        try:
            compile_js(pattern)
        except RegexError as exc:
            found.warn(path, f"regex does not compile ({exc}): this result will not be read")
