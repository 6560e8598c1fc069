"""Running job definitions on the real engine in tests: a runner, and what a job leaves behind."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nosana_node.clock import SYSTEM_CLOCK, Clock, ManualClock
from nosana_node.docker.container_op import ContainerRun, CreateVolume
from nosana_node.docker.labels import FLOW
from nosana_node.flow.events import NullReporter
from nosana_node.flow.model import Flow, Op
from nosana_node.flow.registry import OpRegistry
from nosana_node.flow.runner import FlowRunner
from nosana_node.jobdef import loads
from nosana_node.jobdef.compile import compile_job
from nosana_node.jobdef.settings import JobdefSettings
from nosana_node.settings import RunnerSettings
from tests.corekit import IMAGE, engine

FAST = JobdefSettings(health_interval=0.2, continuous_interval=0.5, health_timeout=60)


class Events(NullReporter):
    """Records node messages; ``ready`` is set once ``services`` services said they are ready."""

    def __init__(self, services: int = 1) -> None:
        self.messages: list[str] = []
        self.ready = threading.Event()
        self.output: list[tuple[str, str, str]] = []
        self.services = services

    def message(self, text: str) -> None:
        self.messages.append(text)
        if len(self.urls()) >= self.services:
            self.ready.set()

    def urls(self) -> list[str]:
        """The first URL of each service that said it is ready, in order."""
        return [m.split("→ ")[1].split(",")[0].strip() for m in self.messages if " ready: " in m]

    def op_output(self, op: Op, stream: str, text: str) -> None:
        self.output.append((op.id, stream, text))


def job(ops: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A job definition with ``ops`` (each op's image defaults to the busybox job image)."""
    for op in ops:
        if op.get("type", "container/run") == "container/run":
            op.setdefault("type", "container/run")
            op.setdefault("args", {}).setdefault("image", IMAGE)
    return {"version": "0.1", "type": "container", "ops": ops, **top}


def runner(
    home: Path, settings: JobdefSettings = FAST, clock: Clock = SYSTEM_CLOCK, **runner_settings: Any
) -> FlowRunner:
    """A flow runner with the job definition op types."""
    registry = OpRegistry([ContainerRun(settings), CreateVolume()])
    return FlowRunner(RunnerSettings(home=home, **runner_settings), registry, clock=clock)


def compile_data(data: dict[str, Any], flow_id: str | None = None) -> Flow:
    """Validate and compile ``data``."""
    import json

    return compile_job(loads(json.dumps(data)), flow_id=flow_id)


def run(
    home: Path,
    data: dict[str, Any],
    *,
    settings: JobdefSettings = FAST,
    deadline: float | None = None,
    reporter: Any = None,
    clock: Clock = SYSTEM_CLOCK,
    **runner_settings: Any,
) -> Flow:
    """Run ``data`` to its end on the real engine."""
    flow_runner = runner(home, settings, clock, **runner_settings)
    try:
        flow = compile_data(data)
        with flow_runner.cancel_token(deadline) as cancel:
            return flow_runner.run(flow, cancel=cancel, reporter=reporter)
    finally:
        flow_runner.close()


def run_service(
    home: Path, data: dict[str, Any], visit: Callable[[list[str]], None], services: int = 1, **kwargs: Any
) -> Flow:
    """Run ``data`` with a deadline on a manual clock: once ``services`` services are ready (within
    60 s), ``visit`` gets their URLs, then the job's time is up (the clock moves past it)."""
    clock = ManualClock()
    events = Events(services)

    def visit_then_expire() -> None:
        try:
            if events.ready.wait(60):
                visit(events.urls())
        finally:
            clock.advance(3600)

    helper = threading.Thread(target=visit_then_expire)
    helper.start()
    try:
        return run(home, data, deadline=clock.now() + 600, reporter=events, clock=clock, **kwargs)
    finally:
        helper.join()


def leftovers(flow_id: str) -> dict[str, list[str]]:
    """Volumes and networks of the flow still on the engine."""
    api = engine()
    try:
        volumes = api.volumes(filters={"label": f"{FLOW}={flow_id}"}).get("Volumes") or []
        networks = api.networks(filters={"label": f"{FLOW}={flow_id}"})
        return {"volumes": [v["Name"] for v in volumes], "networks": [n["Name"] for n in networks]}
    finally:
        api.close()


def log_text(flow: Flow, op_id: str, stream: str | None = None) -> str:
    """The kept log of an op (one stream, or all)."""
    from nosana_node.flow.logs import read_log

    path = flow.states[op_id].log.get("path")
    return "".join(t for _, s, t in read_log(Path(path)) if stream is None or s == stream)
