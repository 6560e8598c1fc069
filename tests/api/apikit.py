"""What the API tests share: an API served on a free port of loopback from a real home, flows run
by the real runner on the real engine with the log bus as reporter, and SSE / WebSocket readers.

No part is a stand-in: the server is the node's aiohttp application in its own thread, clients
speak HTTP over real sockets, and the jobs are containers of the local engine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair

from nosana_node.api.access import Access, operator_token
from nosana_node.api.bus import BusEvent, LogBus, LogLine
from nosana_node.api.health import Health, disk_check
from nosana_node.api.nodemetrics import NodeMetrics
from nosana_node.api.server import ApiContext, ApiServer, ApiSettings
from nosana_node.flow.store import FlowStore
from tests.corekit import flow_runner, write

WAIT = 60.0  # seconds anything awaited in these tests may take before it counts as a failure


def job_address() -> str:
    """A fresh address, as a job's."""
    return str(Keypair().pubkey())


@dataclass
class Served:
    """An API on loopback and what it serves from."""

    server: ApiServer
    ctx: ApiContext
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=WAIT, **kw)

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def serve(
    home: Path,
    bus: LogBus,
    *,
    view: Any = None,
    chain: Any = None,
    parties: Callable[[str], set[str] | None] = lambda job: None,
    checks: list[Any] | None = None,
    access_clock: Callable[[], float] = time.time,
    max_challenges: int = 10_000,
    **settings: Any,
) -> Iterator[Served]:
    """The API over ``home`` on a free loopback port, stopped afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    token = operator_token(home)
    store = FlowStore(home)
    wallet = view.wallet if view is not None else "node"
    metrics = NodeMetrics(
        version="test",
        wallet=wallet,
        market="market",
        network="localnet",
        containers=lambda: bus.running_containers,
        followers=lambda: 0,
    )
    ctx = ApiContext(
        home=home,
        version="test",
        store=store,
        bus=bus,
        access=Access(wallet, token, parties, clock=access_clock, max_challenges=max_challenges),
        health=Health(checks if checks is not None else [disk_check(home, 1)], ttl=0.0),
        metrics=metrics,
        view=view,
        chain=chain,
        settings=ApiSettings(port=0, **settings),
    )
    server = ApiServer(ctx).start()
    try:
        yield Served(server, ctx, token)
    finally:
        server.stop()
        store.close()


class Recorder:
    """A bus listener keeping every event; waits on conditions with a deadline."""

    def __init__(self, bus: LogBus) -> None:
        self.events: list[BusEvent] = []
        self.cond = threading.Condition()
        self._stop = bus.listen(self._add)

    def _add(self, event: BusEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def lines(self, flow: str) -> list[LogLine]:
        with self.cond:
            return [e for e in self.events if isinstance(e, LogLine) and e.flow == flow]

    def wait(self, what: Callable[[], bool], timeout: float = WAIT) -> None:
        with self.cond:
            if not self.cond.wait_for(what, timeout):
                raise AssertionError(f"waited {timeout}s")

    def close(self) -> None:
        self._stop()


class FlowThread:
    """A pipeline run as flow ``flow_id`` by the real runner (bus as reporter) in a thread."""

    def __init__(self, home: Path, bus: LogBus, text: str, flow_id: str, **settings: Any) -> None:
        from nosana_node.pipeline.prepare import prepare_pipeline

        self.runner = flow_runner(home, **settings)
        self.runner.reporter = bus
        path = write(home.parent, text, f"pipeline-{flow_id}.yml")
        self.flow = prepare_pipeline(path, self.runner.store, flow_id=flow_id).flow
        self.cancel = self.runner.cancel_token()
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FlowThread:
        self.thread.start()
        return self

    def __enter__(self) -> FlowThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """A flow still running (the test failed midway) is stopped: no container stays."""
        if self.thread.is_alive():
            from nosana_node.flow.cancel import CancelReason

            self.cancel.cancel(CancelReason.STOPPED, "the test ended")
            self.thread.join(WAIT)
        self.runner.close()

    def _run(self) -> None:
        try:
            self.result = self.runner.run(self.flow, cancel=self.cancel)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = WAIT) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not end in time"
        self.runner.close()
        if self.error is not None:
            raise self.error
        return self.result


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def sse_events(response: httpx.Response) -> Iterator[SseEvent]:
    """The events of a text/event-stream response, as they arrive (comments skipped)."""
    event, data = "message", ""
    for line in response.iter_lines():
        if line == "":
            if data:
                yield SseEvent(event, json.loads(data))
            event, data = "message", ""
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data += line[6:]


def log_text(events: list[SseEvent], stream: str | None = None) -> str:
    return "".join(
        e.data["d"] for e in events if e.event == "log" and (stream is None or e.data["s"] == stream)
    )


def eventually(what: Callable[[], bool], timeout: float = WAIT, message: str = "") -> None:
    """Wait until ``what()`` holds (checked every 20 ms), AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {message or what}")
        pause.wait(0.02)


def gated(body: str, extra: str = "") -> str:
    """A job that prints ``ready``, waits until the test opens its gate (:func:`open_gate`),
    then runs ``body`` (shell); ``extra``: more YAML of the job (e.g. its ``environment``)."""
    from tests.corekit import pipeline

    script = f"echo ready; while [ ! -f /tmp/go ]; do sleep 0.02; done; {body}"
    return pipeline(f"  - name: work\n    commands:\n      - {json.dumps(script)}\n{extra}")


def open_gate(flow_id: str) -> None:
    """Let the gated job of flow ``flow_id`` go on (a ``docker exec`` in its container)."""
    from nosana_node.docker import labels
    from tests.corekit import engine

    api = engine()
    try:
        (container,) = api.containers(filters={"label": [f"{labels.FLOW}={flow_id}"]})
        exec_id = api.exec_create(container["Id"], ["touch", "/tmp/go"])
        api.exec_start(exec_id)
    finally:
        api.close()
