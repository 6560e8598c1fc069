"""The ``docker/run`` op: one container per pipeline job.

Arguments (all plain JSON, references resolved by the runtime before :meth:`DockerRun.run`)::

    image: str                       # the job's image
    commands: [{cmd, working_dir, allow_failure}]
    work_dir: str                    # absolute path in the container
    env: {NAME: str | ref}           # None values (unknown context) are left out
    resources: [{name, path, required, artifact}]   # artifact: {digest, size, …} or None
    artifacts: [{name, path, paths?, required}]     # taken out after success (paths: one archive)
    pull_auth: {server, username, password} | None  # registry credentials (refs)
    gpus: int | None                 # overrides the node setting (-1: all)

Order: resources missing? fail before any container exists → create → place resources →
attach + start → stream logs → exit code → take artifacts out (checked, hashed, capped) →
remove the container (in the background; at once when the run is cancelled or on any error).
The job's time limit (``job_timeout``) runs from the container's creation to the last artifact
taken out: past it the op fails (``timeout``), whatever it was doing. A cancelled run
(``ctx.cancel``) removes the container at once, cuts any transfer, and the op raises
:class:`~nosana_node.flow.cancel.Cancelled`. An engine that does not answer leaves the op
``engine-unreachable`` (resumable), at most a grace after its deadline.

The op asks the engine through the :class:`~nosana_node.flow.executor.Executor` seam only.
"""

from __future__ import annotations

import posixpath
import time
from typing import TYPE_CHECKING, Any

from nosana_node.artifacts.tarcheck import UnsafeArchiveError, scan
from nosana_node.docker import script
from nosana_node.docker.errors import EngineError
from nosana_node.docker.guard import JobTimedOut
from nosana_node.docker.labels import job_labels
from nosana_node.docker.service import docker_service
from nosana_node.flow.executor import Executor, Guard, JobSpec
from nosana_node.flow.model import Op
from nosana_node.flow.refs import Resolver
from nosana_node.flow.registry import OpOutcome, OpType
from nosana_node.flow.results import ArtifactRecord, OpResults, Reason
from nosana_node.units import approx_size

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext, RunEnv


def _target(work_dir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(work_dir, path))


def run_args(
    image: str,
    commands: list[str],
    *,
    work_dir: str = "/root/project",
    env: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    artifacts: list[dict[str, Any]] | None = None,
    pull_auth: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The arguments of a ``docker/run`` op running ``commands`` (plain strings) in ``image``."""
    return {
        "image": image,
        "commands": [{"cmd": c, "working_dir": None, "allow_failure": False} for c in commands],
        "work_dir": work_dir,
        "env": dict(env or {}),
        "resources": list(resources or []),
        "artifacts": list(artifacts or []),
        "pull_auth": pull_auth,
    }


class DockerRun(OpType):
    """Run a job's commands in a fresh container."""

    name = "docker/run"

    def validate(self, args: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(args.get("image"), str) or not args["image"]:
            problems.append("image: a non-empty string is required")
        commands = args.get("commands")
        if not isinstance(commands, list) or not commands:
            problems.append("commands: a non-empty list is required")
        elif not all(isinstance(c, dict) and isinstance(c.get("cmd"), str) for c in commands):
            problems.append("commands: each command needs a 'cmd' string")
        work_dir = args.get("work_dir")
        if not isinstance(work_dir, str) or not work_dir.startswith("/"):
            problems.append("work_dir: an absolute path is required")
        for key in ("resources", "artifacts"):
            items = args.get(key, [])
            if not isinstance(items, list) or not all(
                isinstance(i, dict)
                and isinstance(i.get("name"), str)
                and isinstance(i.get("path"), str)
                and (
                    "paths" not in i
                    or (isinstance(i["paths"], list) and all(isinstance(p, str) for p in i["paths"]))
                )
                for i in items
            ):
                problems.append(f"{key}: a list of {{name, path}} (artifacts: and paths) is required")
        if not isinstance(args.get("env", {}), dict):
            problems.append("env: a mapping is required")
        return problems

    def describe(self, op: Op) -> str:
        return f"{op.id} ({op.args.get('image')})"

    def preflight(self, op: Op, env: RunEnv) -> None:
        executor: Executor = docker_service(env)
        pull_auth = op.args.get("pull_auth")

        def auth() -> dict[str, Any] | None:
            if not pull_auth:
                return None
            resolver = Resolver(lambda _: None, set(), env.context, env.secrets, env.masker)
            resolved = resolver.resolve(pull_auth)
            return {
                "username": resolved.get("username"),
                "password": resolved.get("password"),
                "serveraddress": resolved.get("server"),
            }

        executor.ensure_image(op.args["image"], env.settings.pull_policy, auth, env.reporter.message)

    def run(self, ctx: OpContext) -> OpOutcome:
        args = ctx.args
        work_dir = posixpath.normpath(args["work_dir"])
        placements = []
        for resource in args.get("resources", []):
            record = resource.get("artifact")
            if not record:
                if resource.get("required", True):
                    return OpOutcome.failed(
                        Reason.RESOURCE,
                        f"resource {resource['name']!r} is missing: no earlier job produced it",
                    )
                ctx.log.note(f"resource {resource['name']!r} is missing (not required)")
                continue
            placements.append((resource["name"], _target(work_dir, resource["path"]), record))

        executor: Executor = docker_service(ctx.env)
        settings = ctx.settings
        index = [op.id for op in ctx.flow.ops].index(ctx.op.id)
        spec = JobSpec(
            image=args["image"],
            script=script.render(args["commands"]),
            work_dir=work_dir,
            env={k: str(v) for k, v in args.get("env", {}).items() if v is not None},
            labels=job_labels(executor.store_id, ctx.env.runner, ctx.flow.id, ctx.op.id),
            name=f"nosana-{ctx.flow.id}-{index}-{ctx.state.run_count}",
            cpus=settings.cpus,
            memory=settings.memory,
            pids=settings.pids,
            gpus=args.get("gpus", settings.gpus),
            network=executor.network,
        )
        ctx.cancel.check()
        # the op's time (job_timeout) covers resources in, the run and artifacts out; the guard
        # also bounds every wait for the engine (see nosana_node.docker.guard)
        with executor.guard(ctx.cancel, settings.job_timeout) as guard:
            try:
                job = executor.create(spec, guard, ctx.flow.id)
            except EngineError as exc:
                return OpOutcome.failed(Reason(exc.reason), str(exc))
            settled = False  # False while an exception (cancelled, an error, a bug) is leaving
            try:
                outcome = self._run_container(ctx, executor, guard, job.id, work_dir, placements)
                settled = True
                return outcome
            finally:  # leaving on an exception: the container goes before the op ends
                job.release(wait=not settled)

    def _run_container(
        self,
        ctx: OpContext,
        executor: Executor,
        guard: Guard,
        container_id: str,
        work_dir: str,
        placements: list[tuple[str, str, dict[str, Any]]],
    ) -> OpOutcome:
        args = ctx.args
        timeout = ctx.settings.job_timeout
        results = OpResults()
        phase, code = "placing the resources", None
        try:
            if placements:
                started = time.perf_counter()
                dirs = [work_dir, *(target for _, target, _ in placements)]
                blobs = [(target, ctx.artifacts.path(record["digest"])) for _, target, record in placements]
                executor.place(container_id, dirs, blobs, guard)
                results.timings["resources_in"] = round(time.perf_counter() - started, 4)
            phase = "running"
            end = executor.run(container_id, ctx.log.write, guard)
            code = end.code
            if end.timed_out:
                text = f"timed out after {timeout:g}s (container killed)"
                return OpOutcome.failed(Reason.TIMEOUT, text, code)
            if end.oom_killed:
                limit = approx_size(ctx.settings.memory)
                return OpOutcome.failed(Reason.OUT_OF_MEMORY, f"killed: out of memory (limit {limit})", code)
            if code != 0:
                return OpOutcome.failed(Reason.EXIT_CODE, f"exit code {code}", code)
            started = time.perf_counter()
            for artifact in args.get("artifacts", []):
                phase = f"taking artifact {artifact['name']!r} out"
                guard.check()
                record = self._collect(ctx, executor, guard, container_id, work_dir, artifact)
                if record is None:
                    where = artifact.get("paths") or artifact["path"]
                    if artifact.get("required", True):
                        message = f"artifact {artifact['name']!r}: nothing at {where!r} in {work_dir}"
                        return OpOutcome.failed(Reason.ARTIFACT, message, code, results)
                    ctx.log.note(f"artifact {artifact['name']!r}: nothing at {where!r} (not required)")
                    continue
                results.artifacts[artifact["name"]] = record
        except JobTimedOut:
            return OpOutcome.failed(Reason.TIMEOUT, f"timed out after {timeout:g}s while {phase}", code)
        except EngineError as exc:
            return OpOutcome.failed(Reason(exc.reason), str(exc), code)
        if results.artifacts:
            results.timings["artifacts_out"] = round(time.perf_counter() - started, 4)
        return OpOutcome.succeeded(code, results)

    def _collect(
        self,
        ctx: OpContext,
        executor: Executor,
        guard: Guard,
        container_id: str,
        work_dir: str,
        artifact: dict[str, Any],
    ) -> ArtifactRecord | None:
        name, path = artifact["name"], artifact["path"]
        paths = artifact.get("paths") or [path]
        with ctx.artifacts.writer(ctx.settings.artifact_cap, f"artifact {name!r}") as writer:
            wanted = paths if len(paths) > 1 else [path]
            if not executor.publish(container_id, name, work_dir, wanted, writer, guard):
                return None
            writer.close()
            try:
                summary = scan(writer.tmp_path)
            except UnsafeArchiveError as exc:
                raise UnsafeArchiveError(f"artifact {name!r}: {exc}") from None
            blob = writer.commit()
        shown = path if len(paths) == 1 else ", ".join(paths)
        return ArtifactRecord(blob.digest, blob.size, shown, summary.files, summary.bytes)
