"""What the node benchmarks share: a local market and a node, each in its own process and home
(as on two hosts), a client posting trivial jobs, and the engine's container events.

    with Setup(tmp) as s:                 # localnet start + node start (queued)
        job, listed = s.post()            # list confirmed at ``listed`` (unix seconds)
        started = s.container_started(job)   # the engine's own timestamp
        done = s.done(job)                # the job account seen DONE (subscription)
        s.event("claimed", job)           # the node's own event times (``node start --json``)
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobState
from nosana_node.chain.client import ChainClient, ClientOptions
from nosana_node.chain.documents import pipeline_document
from nosana_node.chain.endpoint import localnet_endpoint
from nosana_node.flow.store import FlowStore
from nosana_node.storage.http import HttpOptions
from nosana_node.storage.kubo import KuboStorage

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
TRIVIAL = f"global:\n  image: {IMAGE}\njobs:\n  - name: trivial\n    commands:\n      - echo hello\n"
REPO = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSANA_", "VAULT_", "BAO_"))}
    env.update(extra)
    return env


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95), nearest rank."""
    ordered = sorted(samples)
    return ordered[(len(ordered) - 1) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


class Setup:
    """``localnet start`` and ``node start`` in their own processes and homes; a client."""

    def __init__(self, root: Path, *, rpc_url: str | None = None, ws_url: str | None = None) -> None:
        self.root = root
        self._rpc_override = (rpc_url, ws_url)
        self.market_proc: subprocess.Popen[str] | None = None
        self.node_proc: subprocess.Popen[str] | None = None
        self._starts: dict[str, float] = {}
        self._creates: dict[str, float] = {}
        self._cond = threading.Condition()
        self.node_lines: list[str] = []
        self._node_events: dict[tuple[str, str | None], float] = {}  # (kind, job) -> the node's time

    # -- lifecycle --------------------------------------------------------------------------------
    def start_market(self) -> dict[str, Any]:
        home = self.root / "market"
        self.market_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nosana_node",
                "localnet",
                "start",
                "--rpc-port",
                "0",
                "--ws-port",
                "0",
                "--json",
            ],
            env=clean_env(NOSANA_HOME=str(home)),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.market_proc.stdout.readline() if self.market_proc.stdout else ""
        if not line:
            raise SystemExit("localnet start did not come up")
        self.summary = json.loads(line)
        self.endpoint = localnet_endpoint(home / "localnet", self.summary["rpc_url"], self.summary["ws_url"])
        self.market = self.endpoint.market("default")
        self.client = ChainClient.connect(
            self.endpoint, self.endpoint.local_keypair("client-1"), ClientOptions()
        )
        self.client.program  # noqa: B018 - the IDL, read once before timing
        self.storage = KuboStorage(self.summary["rpc_url"], HttpOptions(timeout=30, retries=2))
        self.document = self.storage.put_json(pipeline_document(TRIVIAL)).to_chain()
        return self.summary

    def start_node(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """``node start ARGS`` with the market's node-1 wallet, own home; returns once it is
        queued. With ``--json`` its events are kept (:meth:`event`)."""
        home = self.root / "node"
        home.mkdir(parents=True, exist_ok=True)
        keypair = home / "id.json"
        keypair.write_text(Path(self.endpoint.ledger / "keys" / "node-1.json").read_text())  # type: ignore[operator]
        keypair.chmod(0o600)
        store = FlowStore(home)
        self.store_id = store.store_id
        store.close()
        self._follow_engine()
        rpc, ws = self._rpc_override
        self.node_proc = subprocess.Popen(
            [sys.executable, "-m", "nosana_node", "node", "start", *args],
            env=clean_env(
                NOSANA_HOME=str(home),
                NOSANA_NETWORK="localnet",
                NOSANA_RPC_URL=rpc or self.summary["rpc_url"],
                NOSANA_WS_URL=ws or self.summary["ws_url"],
                NOSANA_STORAGE_BACKEND="kubo",
                NOSANA_STORAGE_KUBO_URL=self.summary["rpc_url"],
                NOSANA_KEYPAIR=str(keypair),
                NOSANA_MARKET=str(self.market),
                NOSANA_NODE_API="127.0.0.1:0",
                **env,
            ),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read_node, daemon=True).start()
        self.wait_line("waiting in the queue")
        return self.node_proc

    def _read_node(self) -> None:
        assert self.node_proc is not None and self.node_proc.stdout is not None
        for line in self.node_proc.stdout:
            event = json.loads(line) if line.startswith('{"kind": ') else None
            with self._cond:
                self.node_lines.append(line)
                if event is not None:
                    self._node_events.setdefault((event["kind"], event["job"]), event["at"])
                self._cond.notify_all()

    def event(self, kind: str, job: Pubkey, timeout: float = 120) -> float:
        """When the node published event ``kind`` of ``job`` (unix seconds, the node's clock)."""
        key = (kind, str(job))
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._node_events, timeout):
                raise SystemExit(f"the node never published {kind} for job {job}")
            return self._node_events[key]

    def wait_line(self, words: str, timeout: float = 120) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: any(words in line for line in self.node_lines), timeout):
                raise SystemExit(f"the node never said {words!r}:\n{''.join(self.node_lines)[-3000:]}")

    def _follow_engine(self) -> None:
        import docker

        self._api = docker.APIClient(version="auto")
        self._events = self._api.events(
            decode=True,
            filters={
                "type": "container",
                "event": ["create", "start"],
                "label": [f"io.nosana.store={self.store_id}"],
            },
        )

        def read() -> None:
            try:
                for event in self._events:
                    flow = event.get("Actor", {}).get("Attributes", {}).get("io.nosana.flow")
                    seen = self._starts if event.get("Action") == "start" else self._creates
                    with self._cond:
                        seen.setdefault(flow, event["timeNano"] / 1e9)
                        self._cond.notify_all()
            except Exception:  # closed
                pass

        threading.Thread(target=read, daemon=True).start()

    def stop_node(self) -> None:
        """SIGTERM the node and wait (it leaves the queue first)."""
        _stop(self.node_proc)

    def close(self) -> None:
        for proc in (self.node_proc, self.market_proc):
            _stop(proc)
        for thing in ("client", "storage"):
            if hasattr(self, thing):
                getattr(self, thing).close()
        if hasattr(self, "_events"):
            self._events.close()
            self._api.close()

    def __enter__(self) -> Setup:
        self.start_market()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs -------------------------------------------------------------------------------------
    def post(self, timeout: int = 600) -> tuple[Pubkey, float]:
        """List a trivial job; (job, unix time the list was confirmed)."""
        posted = self.client.list_job(self.market, self.document, timeout)
        return posted.job, time.time()

    def container_started(self, job: Pubkey, timeout: float = 120) -> float:
        """When the job's first container started (the engine's timestamp)."""
        with self._cond:
            if not self._cond.wait_for(lambda: str(job) in self._starts, timeout):
                raise SystemExit(f"no container started for job {job}")
            return self._starts[str(job)]

    def container_created(self, job: Pubkey) -> float:
        """When the job's first container was created (the engine's timestamp; call after
        :meth:`container_started`)."""
        with self._cond:
            return self._creates[str(job)]

    def done(self, job: Pubkey, timeout: float = 120) -> float:
        """When the job account was seen DONE (the finish confirmed)."""
        seen: queue.Queue[float] = queue.Queue()

        def changed(account: Any) -> None:
            if account is not None and account.state == JobState.DONE:
                seen.put(time.time())

        watch = self.client.watch_job(job, changed)
        try:
            return seen.get(timeout=timeout)
        finally:
            watch.close()

    def node_rss(self) -> tuple[int, int]:
        """(current, peak) resident memory of the node process, bytes."""
        assert self.node_proc is not None
        fields = {}
        for line in Path(f"/proc/{self.node_proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]


def _stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
