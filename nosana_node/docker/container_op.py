"""The op types of job definitions: ``container/run`` and ``container/create-volume``.

``container/run`` arguments (compiled by :mod:`nosana_node.jobdef.compile`; literals stay
``{"$literal": …}`` until the op starts, see :mod:`nosana_node.jobdef.expand`)::

    image, cmd (str | list), entrypoint (str | list), env {NAME: str}, work_dir, gpu: bool,
    volumes [{name, dest}], expose (port | range | [{port, type, health_checks}] …),
    resources [...], authentication {docker: {username, password, server}},
    results {KEY: regex | {regex, logType}}, alias: str

Order: literals expanded → image made available (pull policy; credentials) → resources fetched
(a failure names the resource; no container yet) → container created on the job's network with
the node's security defaults, exposed ports published on the settings' address, volumes and
resources mounted → started, logs streamed → health checks (an op without ``expose`` is ready as
soon as it runs; one with ``expose`` once its ports pass their checks: its URLs are logged) →
the container ends → ``results`` read from the log → container removed.

``cmd`` as a string runs with ``/bin/sh -c`` (or with the ``entrypoint`` given, as its last
argument); as a list, as it is. An op with ``expose`` is a service: it has no time limit of its
own and runs until the job's deadline or a stop, and ending that way is a success (as the
official node counts ``expired`` and ``completed``); so is an op stopped because the ops it
serves ended. An op without ``expose`` is killed after the runner's job timeout.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from nosana_node.docker.errors import EngineError
from nosana_node.docker.jobenv import JobEnv, job_env
from nosana_node.docker.labels import job_labels
from nosana_node.errors import NosanaError
from nosana_node.flow.cancel import Cancelled, CancelReason
from nosana_node.flow.executor import Executor, Guard, JobSpec, Mount
from nosana_node.flow.model import Op
from nosana_node.flow.registry import OpOutcome, OpType
from nosana_node.flow.results import OpResults, Reason
from nosana_node.jobdef import expand, health
from nosana_node.jobdef.results import extract
from nosana_node.jobdef.schema import port_range
from nosana_node.jobdef.settings import JobdefSettings
from nosana_node.units import approx_size

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext, RunEnv

#: most ports one op may publish (a range counts each of its ports)
MAX_PORTS = 100
_SERVICE_ENDS = (CancelReason.EXPIRED, CancelReason.STOPPED, CancelReason.COMPLETED)


class JobdefOpError(NosanaError):
    """An op of a job definition cannot start as written (its resolved arguments are unusable)."""


def exposed_ports(expose: Any) -> list[tuple[int, str, tuple[health.Check, ...]]]:
    """``[(container port, type, checks)]`` of an expanded ``expose`` value."""
    items = expose if isinstance(expose, list) else [] if expose is None else [expose]
    ports: list[tuple[int, str, tuple[health.Check, ...]]] = []
    for item in items:
        kind, checks = "", ()
        value = item
        if isinstance(item, dict):
            value = item.get("port")
            kind = item.get("type") or ""
            checks = tuple(health.Check.from_json(c) for c in item.get("health_checks") or [])
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            ports.append((value, kind, checks))
        elif isinstance(value, str) and port_range(value):
            start, end = port_range(value)  # type: ignore[misc]
            if not 1 <= start <= end <= 65535:
                raise JobdefOpError(f"expose: port range {value!r} is out of 1-65535")
            ports.extend((p, kind, checks) for p in range(start, end + 1))
        else:
            raise JobdefOpError(f"expose: {value!r} is not a port (1-65535) or a range 'start-end'")
        if len(ports) > MAX_PORTS:
            raise JobdefOpError(f"expose: more than {MAX_PORTS} ports")
    return ports


def _as_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value]
    raise JobdefOpError(f"{what}: expected a string or a list of strings")


def command_of(cmd: Any, entrypoint: Any) -> tuple[list[str] | None, list[str] | None]:
    """(command, entrypoint) for the engine: a string ``cmd`` runs with ``/bin/sh -c`` unless an
    entrypoint is given; a list runs as it is; None keeps the image's."""
    entry = _as_list(entrypoint, "entrypoint")
    if isinstance(cmd, str):
        return [cmd], entry if entry is not None else ["/bin/sh", "-c"]
    return _as_list(cmd, "cmd"), entry


class _Monitor(threading.Thread):
    """Health checks of a running service: readiness, then continuous checks."""

    def __init__(
        self, ctx: OpContext, env: JobEnv, container_id: str, ports: list[Any], settings: JobdefSettings
    ) -> None:
        super().__init__(name=f"health-{ctx.op.id}", daemon=True)
        self.ctx, self.env, self.container_id = ctx, env, container_id
        self.ports_spec, self.settings = ports, settings
        self.stop = threading.Event()
        self.failure: str | None = None
        self.urls: dict[str, str] = {}

    def _wait(self, seconds: float) -> bool:
        """False when the op is over (container ended, run cancelled)."""
        return not (self.stop.wait(seconds) or self.ctx.cancel.cancelled)

    def run(self) -> None:
        ctx = self.ctx
        published = self.env.docker.ports(self.container_id)
        ports = []
        for number, kind, checks in self.ports_spec:
            host, host_port = published.get(f"{number}/tcp", ("", 0))
            port = health.Port(number, kind, host, host_port, checks)
            ports.append(port)
            self.urls[str(number)] = port.url
        clock = ctx.cancel.clock
        deadline = clock.now() + self.settings.health_timeout
        pending = [p for p in ports if p.checks]
        last = ""
        while pending:
            for port in list(pending):
                passed, last = health.check_round(port)
                if passed:
                    pending.remove(port)
                    ctx.log.note(f"port {port.port}: health checks passed")
            if not pending:
                break
            if clock.now() >= deadline:
                port = pending[0]
                self.failure = (
                    f"port {port.port} did not pass its health checks within "
                    f"{self.settings.health_timeout:g}s (last: {last})"
                )
                ctx.log.note(self.failure)
                self.env.docker.kill(self.container_id)
                return
            if not self._wait(self.settings.health_interval):
                return
        if ports:
            shown = ", ".join(f"{p.port} → {p.url}" for p in ports)
            ctx.log.note(f"ready: {shown}")
            ctx.env.reporter.message(f"{ctx.op.id} ready: {shown}")
        ctx.ready()
        self._continuous(ports)

    def _continuous(self, ports: list[health.Port]) -> None:
        watched = [(p, tuple(c for c in p.checks if c.continuous)) for p in ports]
        watched = [(p, checks) for p, checks in watched if checks]
        healthy = {p.port: True for p, _ in watched}
        while watched and self._wait(self.settings.continuous_interval):
            for port, checks in watched:
                passed, what = health.check_round(port, checks)
                if passed != healthy[port.port]:
                    healthy[port.port] = passed
                    state = "healthy again" if passed else f"unhealthy ({what})"
                    self.ctx.log.note(f"port {port.port}: {state}")


class ContainerRun(OpType):
    """Run one container of a job definition (a task or a service)."""

    name = "container/run"

    def __init__(self, settings: JobdefSettings | None = None) -> None:
        self.settings = settings or JobdefSettings()

    def validate(self, args: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(args.get("image"), str | dict) or not args.get("image"):
            problems.append("image: a non-empty string is required")
        for key in ("env", "results"):
            if not isinstance(args.get(key) or {}, dict):
                problems.append(f"{key}: a mapping is required")
        for key in ("volumes", "resources"):
            if not isinstance(args.get(key) or [], list):
                problems.append(f"{key}: a list is required")
        return problems

    def describe(self, op: Op) -> str:
        image = op.args.get("image")
        return f"{op.id} ({image})" if isinstance(image, str) else op.id

    def preflight(self, op: Op, env: RunEnv) -> None:
        image = op.args.get("image")
        if isinstance(image, str):  # an image named by a literal is made available when the op starts
            _ensure(env, image, op.args.get("authentication"))

    def run(self, ctx: OpContext) -> OpOutcome:
        args = expand.expand(ctx.args)
        image = args.get("image")
        if not isinstance(image, str) or not image:
            return OpOutcome.failed(Reason.ERROR, f"image: {image!r} is not an image name")
        try:
            command, entrypoint = command_of(args.get("cmd"), args.get("entrypoint"))
            ports = exposed_ports(args.get("expose"))
        except JobdefOpError as exc:
            return OpOutcome.failed(Reason.ERROR, str(exc))
        env = job_env(ctx)
        _ensure(ctx.env, image, args.get("authentication"))
        mounts = self._mounts(ctx, env, args)
        network = env.prepare_network()
        if ports and network == "none":
            return OpOutcome.failed(Reason.ERROR, "expose: the node runs jobs without a network (none)")
        settings = ctx.settings
        index = [op.id for op in ctx.flow.ops].index(ctx.op.id)
        gpus = (settings.gpus or -1) if args.get("gpu") else None
        spec = JobSpec(
            image=image,
            script="",
            work_dir=args.get("work_dir") or None,
            env={k: str(v) for k, v in (args.get("env") or {}).items() if v is not None}
            | {"NOSANA_ID": ctx.flow.id},
            labels=job_labels(env.docker.store_id, ctx.env.runner, ctx.flow.id, ctx.op.id),
            name=f"nosana-{ctx.flow.id}-{index}-{ctx.state.run_count}",
            cpus=settings.cpus,
            memory=settings.memory,
            pids=settings.pids,
            gpus=gpus,
            network=network,
            command=command,
            entrypoint=entrypoint,
            ports=[f"{p}/tcp" for p, _, _ in ports],
            publish_address=self.settings.publish_address,
            mounts=mounts,
            aliases=[args["alias"]] if args.get("alias") and network not in ("none", "bridge") else [],
        )
        ctx.cancel.check()
        timeout = None if ports else settings.job_timeout  # a service runs until the deadline or a stop
        with env.docker.guard(ctx.cancel, timeout) as guard:
            try:
                job = env.docker.create(spec, guard, ctx.flow.id)
            except EngineError as exc:
                return OpOutcome.failed(Reason(exc.reason), str(exc))
            try:
                return self._run(ctx, env, guard, job.id, ports, args)
            finally:
                job.release()

    def _mounts(self, ctx: OpContext, env: JobEnv, args: dict[str, Any]) -> list[Mount]:
        from nosana_node.jobdef.mounts import parse, resource_mounts

        mounts = [
            Mount(env.volume(v["name"]), v["dest"], read_only=False, volume=True)
            for v in args.get("volumes") or []
        ]
        resources = parse(args.get("resources") or [])
        if resources:
            store = _resource_store(ctx, self.settings, public=bool(ctx.args.get("public")))
            mounts += resource_mounts(resources, store, env.private_dir, ctx.log.note)
        return mounts

    def _run(
        self,
        ctx: OpContext,
        env: JobEnv,
        guard: Guard,
        container_id: str,
        ports: list[Any],
        args: dict[str, Any],
    ) -> OpOutcome:
        service = bool(ports)
        monitor = _Monitor(ctx, env, container_id, ports, self.settings)
        ended_by: CancelReason | None = None
        try:
            end = env.docker.run(container_id, ctx.log.write, guard, monitor.start)
        except Cancelled as exc:
            if exc.reason not in _SERVICE_ENDS or (not service and exc.reason is not CancelReason.COMPLETED):
                raise
            ended_by, end = exc.reason, None
        except EngineError as exc:
            return OpOutcome.failed(Reason(exc.reason), str(exc))
        finally:
            monitor.stop.set()
            if monitor.ident is not None:
                monitor.join(guard.grace)  # a check stuck on a frozen engine is left behind
        results = OpResults(values=extract(ctx.log.path, args.get("results") or {}))
        results.endpoints = dict(monitor.urls)
        if ended_by is not None:
            ctx.log.note(f"ended: {ctx.cancel.describe()} (a success for a service)")
            return OpOutcome.succeeded(None, results)
        assert end is not None
        if monitor.failure:
            return OpOutcome.failed(Reason.ERROR, monitor.failure, end.code, results)
        if end.timed_out:
            timeout_text = f"timed out after {ctx.settings.job_timeout:g}s (container killed)"
            return OpOutcome.failed(Reason.TIMEOUT, timeout_text, end.code, results)
        if end.oom_killed:
            limit = approx_size(ctx.settings.memory)
            return OpOutcome.failed(Reason.OUT_OF_MEMORY, f"killed: out of memory (limit {limit})", end.code)
        if end.code != 0:
            return OpOutcome.failed(Reason.EXIT_CODE, f"exit code {end.code}", end.code, results)
        return OpOutcome.succeeded(end.code, results)


class CreateVolume(OpType):
    """Make a named volume for the job's ops (removed with the job)."""

    name = "container/create-volume"

    def validate(self, args: dict[str, Any]) -> list[str]:
        return (
            []
            if isinstance(args.get("name"), str) and args["name"]
            else ["name: a non-empty string is required"]
        )

    def run(self, ctx: OpContext) -> OpOutcome:
        env = job_env(ctx)
        docker_name = env.volume(ctx.args["name"])
        ctx.log.note(f"volume {ctx.args['name']!r} ready ({docker_name})")
        return OpOutcome.succeeded(0)


def _ensure(env: RunEnv, image: str, authentication: Any) -> None:
    from nosana_node.docker.service import docker_service

    executor: Executor = docker_service(env)
    docker_auth = (authentication or {}).get("docker") if isinstance(authentication, dict) else None

    def auth() -> dict[str, Any] | None:
        if not docker_auth:
            return None
        return {
            "username": docker_auth.get("username"),
            "password": docker_auth.get("password"),
            "serveraddress": docker_auth.get("server"),
        }

    if docker_auth and docker_auth.get("password"):
        env.masker.add(docker_auth["password"])
    executor.ensure_image(image, env.settings.pull_policy, auth, env.reporter.message)


def _resource_store(ctx: OpContext, settings: JobdefSettings, public: bool) -> Any:
    """The run's resource store; a market job's (``public``) reaches public endpoints only."""
    from nosana_node.addresses import Allowance
    from nosana_node.resources import ResourceStore
    from nosana_node.resources.guard import AddressGuard
    from nosana_node.resources.s3 import VaultCredentials

    def make() -> ResourceStore:
        credentials = None
        if settings.s3_credentials:
            credentials = VaultCredentials(_MaskingResolver(ctx.env), settings.s3_credentials)
        guard = AddressGuard(Allowance.parse(settings.resources.allow_private)) if public else None
        return ResourceStore(ctx.settings.home, settings.resources, credentials, guard)

    return ctx.env.services.get("resource-store-public" if public else "resource-store", make)


class _MaskingResolver:
    """The run's secret resolver, masking every value it gives."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env

    def resolve(self, ref: Any) -> str:
        value = self.env.secrets.resolve(ref)
        self.env.masker.add(value)
        return value
