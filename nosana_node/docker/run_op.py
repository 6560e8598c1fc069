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
A cancelled run (``ctx.cancel``) kills the container at once; the op then raises
:class:`~nosana_node.flow.cancel.Cancelled` after the container is removed.
"""

from __future__ import annotations

import posixpath
import time
from typing import TYPE_CHECKING, Any

from nosana_node.artifacts.tarcheck import UnsafeArchiveError, scan
from nosana_node.docker import container, script, transfer
from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.images import ensure_image
from nosana_node.docker.labels import job_labels
from nosana_node.docker.service import DockerService, docker_service
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
        service = docker_service(env)
        image = op.args["image"]
        if image in service.ready_images:
            return
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

        ensure_image(
            service.api, image, env.settings.pull_policy, auth, env.reporter.message, env.cancel.check
        )
        service.ready_images.add(image)

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

        service = docker_service(ctx.env)
        settings = ctx.settings
        index = [op.id for op in ctx.flow.ops].index(ctx.op.id)
        spec = container.JobSpec(
            image=args["image"],
            script=script.render(args["commands"]),
            work_dir=work_dir,
            env={k: str(v) for k, v in args.get("env", {}).items() if v is not None},
            labels=job_labels(service.store_id, ctx.env.runner, ctx.flow.id, ctx.op.id),
            name=f"nosana-{ctx.flow.id}-{index}-{ctx.state.run_count}",
            cpus=settings.cpus,
            memory=settings.memory,
            pids=settings.pids,
            gpus=args.get("gpus", settings.gpus),
            network=service.network,
        )
        ctx.cancel.check()
        try:
            with engine_call("cannot create the job container"):
                container_id = container.create(service.api, spec)
        except EngineError as exc:
            return OpOutcome.failed(Reason.ENGINE, str(exc))
        settled = False  # False while an exception (cancelled, an error, a bug) is leaving
        # cancelled at any point of the container's life (resources going in, running, artifacts
        # coming out): it goes at once, whatever this thread is doing
        forget = ctx.cancel.on_cancel(lambda _: service.remove_now(container_id))
        try:
            outcome = self._run_container(ctx, service, container_id, work_dir, placements)
            settled = True
            return outcome
        finally:
            forget()
            if settled:
                service.remove_later(container_id)
            else:  # leaving on an exception: the container goes before the op ends
                service.remove_now(container_id)

    def _run_container(
        self,
        ctx: OpContext,
        service: DockerService,
        container_id: str,
        work_dir: str,
        placements: list[tuple[str, str, dict[str, Any]]],
    ) -> OpOutcome:
        api = service.api
        args = ctx.args
        timeout = ctx.settings.job_timeout
        results = OpResults()
        try:
            if placements:
                started = time.perf_counter()
                with engine_call("cannot place the resources in the job container"):
                    dirs = [work_dir, *(target for _, target, _ in placements)]
                    transfer.make_dirs(api, container_id, dirs)
                    for _name, target, record in placements:
                        ctx.cancel.check()
                        transfer.put_blob(api, container_id, target, ctx.artifacts.path(record["digest"]))
                results.timings["resources_in"] = round(time.perf_counter() - started, 4)
            end = container.run_attached(api, container_id, ctx.log.write, timeout, ctx.cancel)
        except EngineError as exc:
            return OpOutcome.failed(Reason.ENGINE, str(exc))
        if end.timed_out:
            return OpOutcome.failed(
                Reason.TIMEOUT, f"timed out after {timeout:g}s (container killed)", end.code
            )
        if end.oom_killed:
            limit = approx_size(ctx.settings.memory)
            return OpOutcome.failed(Reason.OUT_OF_MEMORY, f"killed: out of memory (limit {limit})", end.code)
        if end.code != 0:
            return OpOutcome.failed(Reason.EXIT_CODE, f"exit code {end.code}", end.code)
        started = time.perf_counter()
        for artifact in args.get("artifacts", []):
            ctx.cancel.check()
            try:
                record = self._collect(ctx, api, container_id, work_dir, artifact)
            except EngineError as exc:
                return OpOutcome.failed(Reason.ENGINE, str(exc), end.code)
            if record is None:
                where = artifact.get("paths") or artifact["path"]
                if artifact.get("required", True):
                    message = f"artifact {artifact['name']!r}: nothing at {where!r} in {work_dir}"
                    return OpOutcome.failed(Reason.ARTIFACT, message, end.code, results)
                ctx.log.note(f"artifact {artifact['name']!r}: nothing at {where!r} (not required)")
                continue
            results.artifacts[artifact["name"]] = record
        if results.artifacts:
            results.timings["artifacts_out"] = round(time.perf_counter() - started, 4)
        return OpOutcome.succeeded(end.code, results)

    def _collect(
        self, ctx: OpContext, api: Any, container_id: str, work_dir: str, artifact: dict[str, Any]
    ) -> ArtifactRecord | None:
        name, path = artifact["name"], artifact["path"]
        paths = artifact.get("paths") or [path]
        with ctx.artifacts.writer(ctx.settings.artifact_cap, f"artifact {name!r}") as writer:
            try:
                with engine_call(f"cannot take artifact {name!r} out"):
                    if len(paths) > 1 or transfer.has_glob(path):
                        if transfer.collect_glob(api, container_id, work_dir, paths, writer) == 0:
                            return None
                    else:
                        transfer.collect(api, container_id, _target(work_dir, path), writer)
            except EngineNotFound:
                return None
            writer.close()
            try:
                summary = scan(writer.tmp_path)
            except UnsafeArchiveError as exc:
                raise UnsafeArchiveError(f"artifact {name!r}: {exc}") from None
            blob = writer.commit()
        shown = path if len(paths) == 1 else ", ".join(paths)
        return ArtifactRecord(blob.digest, blob.size, shown, summary.files, summary.bytes)
