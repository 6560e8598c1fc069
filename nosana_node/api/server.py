"""The node's HTTP API and status page: one aiohttp application, served from a thread of its own.

Open to anyone on the bound address:

- ``GET /``: the status page (one self-contained HTML file; it uses only the routes below);
- ``GET /health``: the checks' verdicts; 200 when all pass, 503 when one fails;
- ``GET /metrics``: Prometheus text format (:mod:`.nodemetrics`);
- ``GET /status``: market, queue position, balances, stake, current job, earnings, uptime, version;
- ``GET /jobs``: recent runs (``?limit=``, at most 500) with state and timings;
- ``GET /jobs/{job}``: one job: step, result CID, its flow with per-op status (never its log);
- ``POST /jobs/{job}/challenge``: a challenge for the poster to sign (:mod:`.access`).

For the operator and the job's poster only (:mod:`.access`):

- ``GET /jobs/{job}/logs``: the stored log as JSON lines (``?format=text``: plain text);
  ``?follow=1``: Server-Sent Events, the stored log then live lines, until the job's flow ends;
- ``GET /jobs/{job}/logs/ws``: the same over a WebSocket (credentials in the ``Authorization``
  header, or as the first message ``{"authorization": "..."}``).

At most ``max_connections`` connections are open at once (past it: 503 and closed, as the local
market's endpoints do), an idle or half-sent request is closed after aiohttp's keep-alive time.
Everything returned is masked by the process masker. Blocking reads (flow store, node database,
chain) run in a small thread pool, never in the event loop; the job's threads hand live lines
over through :class:`~.fanout.Fanout` and never wait for a client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from nosana_node.api.access import Access, AccessDenied, BusyError, Reader
from nosana_node.api.bus import LogBus
from nosana_node.api.chainstatus import ChainStatus
from nosana_node.api.fanout import Fanout, Follower, Item, TooManyFollowers, encode
from nosana_node.api.health import Health
from nosana_node.api.metrics import CONTENT_TYPE
from nosana_node.api.nodemetrics import NodeMetrics
from nosana_node.api.refresh import Refreshed
from nosana_node.api.storedlog import StoredLine, StoredLog
from nosana_node.api.view import JobEntry, NodeView
from nosana_node.errors import NosanaError
from nosana_node.flow.model import Flow
from nosana_node.flow.store import FlowStore
from nosana_node.localnet.guard import ConnectionGuard, GuardedSite
from nosana_node.localnet.limits import raise_open_files
from nosana_node.secrets.masking import process_masker

log = logging.getLogger("nosana_node.api")
T = TypeVar("T")

_ADDRESS = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")
MAX_LIMIT = 500
#: Seconds a WebSocket client has to send its credentials as its first message.
WS_AUTH_TIMEOUT = 10.0
FINAL_STEPS = ("finished", "stopped", "quit")
#: Seconds a job found on this node is not looked up again by the log routes; jobs remembered.
KNOWN_TTL = 30.0
KNOWN_JOBS = 4096
#: Stored log text read once for all the followers who arrive together; past it, each reads on.
SNAPSHOT_CHARS = 4 * 1024 * 1024
#: Node events after which balances, the queue or earnings may differ on chain.
CHAIN_EVENTS = frozenset({"claimed", "finished", "stopped", "quit", "queued", "left-queue"})
#: Open files kept for the node itself (engine, RPC, database, logs) when the API's connections
#: are capped by the process's open-file limit.
RESERVED_FILES = 512
#: What a follower is sent when nothing happened for ``heartbeat`` seconds.
PING = Item("ping", '{"type":"ping"}', b": ping\n\n")


@dataclass(frozen=True)
class ApiSettings:
    """Where the API listens and its limits (``:node :api`` in config.edn)."""

    address: str = "127.0.0.1"
    port: int = 8989
    max_connections: int = 4096  # HTTP and WebSocket connections open at once (503 past it)
    max_followers: int = 4096
    max_pending: int = 4 * 1024 * 1024
    heartbeat: float = 15.0
    status_ttl: float = 10.0


@dataclass
class ApiContext:
    """What the API serves from."""

    home: Path
    version: str
    store: FlowStore
    bus: LogBus
    access: Access
    health: Health
    metrics: NodeMetrics
    view: NodeView | None = None
    chain: ChainStatus | None = None
    settings: ApiSettings = field(default_factory=ApiSettings)
    started: float = field(default_factory=time.time)


@dataclass
class Snapshot:
    """A job's stored log as read for followers: its lines (encoded once, shared), the lines read
    per file, and, when ``complete``, whether the job had ended (and its status)."""

    items: list[Item]
    counts: dict[tuple[str, int], int]
    complete: bool
    ended: bool = False
    status: str | None = None


@dataclass
class _SnapshotRead:
    future: asyncio.Future[Snapshot]
    started: bool = False


def _address(request: web.Request) -> str:
    address = request.match_info["address"]
    if not _ADDRESS.match(address):
        raise web.HTTPBadRequest(reason=f"{address[:64]!r} is not a job address (base58)")
    return address


def _log_items(lines: list[StoredLine]) -> list[Item]:
    mask = process_masker().mask
    return [encode("log", {"type": "log", **line.to_json(), "d": mask(line.text)}) for line in lines]


def _end(status: str | None) -> Item:
    return encode("end", {"type": "end", "status": status})


# -- helpers ------------------------------------------------------------------------------------------
def _json(doc: Any, status: int = 200) -> web.Response:
    return web.json_response(process_masker().mask_obj(doc), status=status, dumps=_dumps)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _error(status: int, message: str, **headers: str) -> web.Response:
    response = _json({"error": message, "status": status}, status)
    response.headers.update(headers)
    return response


def _denied(exc: AccessDenied) -> web.Response:
    if exc.status == 401:
        return _error(401, str(exc), **{"WWW-Authenticate": 'Bearer realm="nosana-node", Nosana-Signature'})
    return _error(exc.status, str(exc))


def _op_doc(flow: Flow) -> list[dict[str, Any]]:
    ops = []
    for op in flow.ops:
        state = flow.states[op.id]
        ops.append(
            {
                "op": op.id,
                "type": op.type,
                "status": str(state.status),
                "attempts": state.run_count,
                "exit_code": state.exit_code,
                "started_at": state.started_at,
                "ended_at": state.ended_at,
                "duration": round(state.duration, 3) if state.duration is not None else None,
                "reason": str(state.reason) if state.reason else None,
                "error": state.error,
                "artifacts": sorted(state.results.artifacts),
            }
        )
    return ops


def job_doc(address: str, entry: JobEntry | None, flow: Flow | None) -> dict[str, Any]:
    """A job as ``GET /jobs/{job}`` shows it (no log text)."""
    doc: dict[str, Any] = {"job": address, **(entry.to_json() if entry else {})}
    doc["flow"] = None
    if flow is not None:
        doc["flow"] = {
            "id": flow.id,
            "name": flow.name,
            "status": str(flow.status),
            "started_at": flow.started_at,
            "ended_at": flow.ended_at,
            "error": flow.error,
            "ops": _op_doc(flow),
        }
    doc.setdefault("status", None)
    if doc["status"] is None and flow is not None and flow.status.finished:
        doc["status"] = str(flow.status)
    return doc


class Api:
    """The routes over an :class:`ApiContext`; built in the event loop that serves it."""

    def __init__(self, ctx: ApiContext, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        self.loop = loop
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="api-read")
        s = ctx.settings
        self.fanout = Fanout(ctx.bus, loop, max_followers=s.max_followers, max_pending=s.max_pending)
        self._chain: Refreshed[dict[str, Any]] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        if ctx.chain is not None:
            self._chain = Refreshed(self._read_chain, s.status_ttl, executor=self.pool)
            if ctx.view is not None:  # what the chain says changes with these: read it anew
                self._unsubscribe = ctx.view.subscribe(self._chain_changed)
        self._page = _page()
        self._snapshots: dict[str, _SnapshotRead] = {}
        self._known_jobs: OrderedDict[str, float] = OrderedDict()  # address -> when last seen
        self._looking: dict[str, asyncio.Future[tuple[JobEntry | None, Flow | None]]] = {}

    def _chain_changed(self, event: Any) -> None:
        if event.kind in CHAIN_EVENTS and self._chain is not None:
            self._chain.invalidate()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.fanout.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.pool, fn, *args)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024, middlewares=[self._errors])
        app.add_routes(
            [
                web.get("/", self.page),
                web.get("/health", self.health),
                web.get("/metrics", self.metrics),
                web.get("/status", self.status),
                web.get("/jobs", self.jobs),
                web.get("/jobs/{address}", self.job),
                web.post("/jobs/{address}/challenge", self.challenge),
                web.get("/jobs/{address}/logs", self.logs),
                web.get("/jobs/{address}/logs/ws", self.logs_ws),
            ]
        )
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                return _error(exc.status, exc.reason)
            raise
        except AccessDenied as exc:
            return _denied(exc)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except NosanaError as exc:
            return _error(503, str(exc))
        except Exception:
            log.exception("API request %s %s failed", request.method, request.path)
            return _error(500, "internal error (logged by the node)")

    # -- reads ------------------------------------------------------------------------------------------
    def _read_chain(self) -> dict[str, Any]:
        assert self.ctx.chain is not None
        doc = self.ctx.chain.read()
        view = self.ctx.view
        finished = [e.job for e in view.jobs(100) if e.step == "finished"] if view else []
        paid = self.ctx.chain.paid(finished)
        doc["earnings"] = {"jobs": len(paid), "nos": sum(paid.values()), "per_job": paid}
        return doc

    def _lookup(self, address: str) -> tuple[JobEntry | None, Flow | None]:
        entry = self.ctx.view.job(address) if self.ctx.view is not None else None
        store = self.ctx.store
        flow = store.load(address) if store.exists(address) else None
        return entry, flow

    async def _known(self, request: web.Request) -> tuple[str, JobEntry | None, Flow | None]:
        """The job's address, its run and flow as they are now (400 / 404)."""
        address = _address(request)
        entry, flow = await self.run(self._lookup, address)
        if entry is None and flow is None:
            raise web.HTTPNotFound(reason=f"this node has no job {address}")
        self._seen(address)
        return address, entry, flow

    async def _known_address(self, request: web.Request) -> str:
        """The address of a job this node has (400 / 404); a job seen in the last
        :data:`KNOWN_TTL` seconds is not looked up again (a crowd of followers asks at once)."""
        address = _address(request)
        seen = self._known_jobs.get(address)
        if seen is not None and time.monotonic() - seen < KNOWN_TTL:
            return address
        looking = self._looking.get(address)
        if looking is None:  # one lookup for all who ask meanwhile
            looking = self._looking[address] = asyncio.ensure_future(self.run(self._lookup, address))
            looking.add_done_callback(lambda _: self._looking.pop(address, None))
        entry, flow = await asyncio.shield(looking)
        if entry is None and flow is None:
            raise web.HTTPNotFound(reason=f"this node has no job {address}")
        self._seen(address)
        return address

    def _seen(self, address: str) -> None:
        self._known_jobs[address] = time.monotonic()
        self._known_jobs.move_to_end(address)
        while len(self._known_jobs) > KNOWN_JOBS:
            self._known_jobs.popitem(last=False)

    async def _reader(self, authorization: str | None, address: str) -> Reader:
        reader = self.ctx.access.authenticate(authorization, address)
        if reader.role == "operator":
            return reader
        return await self.run(self.ctx.access.authorize, reader, address)

    # -- routes -----------------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        body, script_hash = self._page
        return web.Response(
            text=body,
            content_type="text/html",
            headers={
                "Content-Security-Policy": (
                    f"default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                    "frame-ancestors 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    async def health(self, request: web.Request) -> web.Response:
        verdicts = await self.ctx.health.verdicts()
        ok = all(v.ok for v in verdicts)
        return _json({"ok": ok, "checks": [v.to_json() for v in verdicts]}, 200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = self.ctx.metrics.render()
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def status(self, request: web.Request) -> web.Response:
        ctx = self.ctx
        now = time.time()
        doc: dict[str, Any] = {
            "version": ctx.version,
            "started_at": ctx.started,
            "uptime": round(now - ctx.started, 3),
            "node": ctx.view.wallet if ctx.view else None,
            "network": ctx.view.network if ctx.view else None,
            "followers": self.fanout.count,
        }
        if ctx.view is not None:
            snapshot = ctx.view.snapshot()
            doc.update(snapshot)
            doc["node"] = ctx.view.wallet
        doc["market"] = {"address": ctx.view.market if ctx.view else None}
        if self._chain is not None:
            try:
                chain = await self._chain.get()
            except NosanaError as exc:
                doc["chain_error"] = str(exc)
            else:
                doc.update({k: v for k, v in chain.items() if k != "market"})
                doc["market"] = chain["market"]
        return _json(doc)

    async def jobs(self, request: web.Request) -> web.Response:
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query.get("limit", "50"))))
        except ValueError:
            raise web.HTTPBadRequest(reason="limit must be a whole number") from None
        entries = await self.run(self._recent, limit)
        return _json({"jobs": entries})

    def _recent(self, limit: int) -> list[dict[str, Any]]:
        flows = {f.id: f for f in self.ctx.store.list(limit * 2)}
        if self.ctx.view is None:
            return [
                {"job": f.id, "flow_status": f.status, "started_at": f.started_at, "ended_at": f.ended_at}
                for f in list(flows.values())[:limit]
            ]
        out = []
        for entry in self.ctx.view.jobs(limit):
            doc = entry.to_json()
            flow = flows.get(entry.job)
            doc["flow_status"] = flow.status if flow else None
            out.append(doc)
        return out

    async def job(self, request: web.Request) -> web.Response:
        address, entry, flow = await self._known(request)
        return _json(job_doc(address, entry, flow))

    async def challenge(self, request: web.Request) -> web.Response:
        address = await self._known_address(request)
        try:
            challenge = self.ctx.access.issue(address)
        except BusyError as exc:
            return _error(429, str(exc), **{"Retry-After": "60"})
        return _json(challenge.to_json())

    async def logs(self, request: web.Request) -> web.StreamResponse:
        address = await self._known_address(request)
        await self._reader(request.headers.get("Authorization"), address)
        if request.query.get("follow", "") not in ("", "0", "false", "no"):
            return await self._follow_sse(request, address)
        as_text = request.query.get("format") == "text"
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/plain; charset=utf-8" if as_text else "application/x-ndjson",
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        stored = await self.run(_open_log, self.ctx.store, address, await self.run(self._flow, address))
        try:
            while not stored.done:
                batch = await self.run(stored.batch)
                mask = process_masker().mask
                if as_text:
                    chunk = "".join(mask(line.text) for line in batch)
                else:
                    chunk = "".join(_dumps({**line.to_json(), "d": mask(line.text)}) + "\n" for line in batch)
                await response.write(chunk.encode())
        finally:
            stored.close()
        await response.write_eof()
        return response

    # -- following ---------------------------------------------------------------------------------------
    async def _follow(self, address: str, send: Callable[[list[Item]], Any], follower: Follower) -> None:
        """Send the stored log, then live items until the flow ends or the follower is dropped;
        ``follower`` must exist before this is called (no line falls between the two)."""
        snap = await self._shared_snapshot(address)
        await send(snap.items)
        counts = snap.counts
        if not snap.complete:  # a long log: the rest from the files, for this follower alone
            counts = await self._send_stored(send, address, counts)
            if await self.run(self._ended, address):
                await self._send_stored(send, address, counts)  # what came before it ended
                await send([_end(await self.run(self._final_status, address))])
                return
        elif snap.ended:
            await send([_end(snap.status)])
            return
        while True:
            items = await follower.take(self.ctx.settings.heartbeat)
            if follower.dropped is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await send([encode("dropped", {"type": "dropped", "reason": follower.dropped})])
                return
            if not items:
                await send([PING])
                continue
            fresh = [
                item
                for item in items
                if not (item.kind == "log" and item.seq <= counts.get((item.op or "", item.attempt), 0))
            ]
            end = next((i for i, item in enumerate(fresh) if item.kind == "end"), None)
            if end is not None:
                await send(fresh[: end + 1])
                return
            if fresh:
                await send(fresh)

    async def _shared_snapshot(self, address: str) -> Snapshot:
        """A :class:`Snapshot` read after this call began: followers that ask at about the same
        time share one read (it starts on the loop's next turn, after each of them registered)."""
        group = self._snapshots.get(address)
        if group is None or group.started:
            group = _SnapshotRead(self.loop.create_future())
            self._snapshots[address] = group
            self.loop.call_soon(self._start_snapshot, address, group)
        return await asyncio.shield(group.future)

    def _start_snapshot(self, address: str, group: _SnapshotRead) -> None:
        group.started = True
        done = self.loop.run_in_executor(self.pool, self._snapshot, address)

        def settle(future: asyncio.Future[Snapshot]) -> None:
            if self._snapshots.get(address) is group:
                del self._snapshots[address]
            if future.cancelled():
                group.future.cancel()
            elif future.exception() is not None:
                group.future.set_exception(future.exception())  # type: ignore[arg-type]
            else:
                group.future.set_result(future.result())

        done.add_done_callback(settle)

    def _snapshot(self, address: str) -> Snapshot:
        """The job's stored log (up to :data:`SNAPSHOT_CHARS`), and whether it has ended (blocking)."""
        ended_before = self._ended(address)
        stored = _open_log(self.ctx.store, address, self._flow(address))
        items: list[Item] = []
        size = 0
        try:
            while not stored.done and size < SNAPSHOT_CHARS:
                batch = _log_items(stored.batch())
                items += batch
                size += sum(item.size for item in batch)
        finally:
            stored.close()
        if not stored.done:
            return Snapshot(items, stored.counts, complete=False)
        counts = stored.counts
        ended = ended_before or self._ended(address)
        if ended and not ended_before:  # it ended while the files were read: the rest of them
            rest = _open_log(self.ctx.store, address, self._flow(address), counts)
            try:
                while not rest.done:
                    items += _log_items(rest.batch())
            finally:
                rest.close()
            counts = rest.counts
        status = self._final_status(address) if ended else None
        return Snapshot(items, counts, complete=True, ended=ended, status=status)

    async def _send_stored(
        self, send: Callable[[list[Item]], Any], address: str, skip: dict[tuple[str, int], int] | None
    ) -> dict[tuple[str, int], int]:
        """Send the stored log (but the first ``skip`` lines of each file); the lines per file."""
        stored = await self.run(_open_log, self.ctx.store, address, await self.run(self._flow, address), skip)
        try:
            while not stored.done:
                batch = await self.run(stored.batch)
                if batch:
                    await send(_log_items(batch))
        finally:
            stored.close()
        return stored.counts

    def _flow(self, address: str) -> Flow | None:
        store = self.ctx.store
        return store.load(address) if store.exists(address) else None

    def _ended(self, address: str) -> bool:
        """True when nothing more will be written to the job's log by this node now."""
        flow = self._flow(address)
        entry = self.ctx.view.job(address) if self.ctx.view is not None else None
        if flow is not None and flow.status.finished:
            return True
        if entry is not None:
            return entry.step in FINAL_STEPS or (flow is None and entry.step not in ("claimed", "running"))
        return flow is not None and flow.status.value not in ("running", "pending")

    def _final_status(self, address: str) -> str | None:
        store = self.ctx.store
        if store.exists(address):
            return str(store.load(address).status)
        entry = self.ctx.view.job(address) if self.ctx.view is not None else None
        return entry.status or entry.step if entry else None

    def _new_follower(self, address: str, transport: Any) -> Follower:
        def drop() -> None:
            self.ctx.metrics.dropped.inc()
            if transport is not None:
                transport.abort()  # at once: a client that reads nothing would keep a close waiting

        return self.fanout.follow(address, on_drop=drop)

    async def _follow_sse(self, request: web.Request, address: str) -> web.StreamResponse:
        try:
            follower = self._new_follower(address, request.transport)
        except TooManyFollowers as exc:
            return _error(503, str(exc), **{"Retry-After": "30"})
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-store",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)

            async def send(items: list[Item]) -> None:
                await response.write(b"".join(item.sse for item in items))

            with contextlib.suppress(ConnectionError):
                await self._follow(address, send, follower)
                await response.write_eof()
            return response
        finally:
            self.fanout.unfollow(follower)

    async def logs_ws(self, request: web.Request) -> web.StreamResponse:
        address = await self._known_address(request)
        header = request.headers.get("Authorization")
        if header:
            await self._reader(header, address)  # refused before the upgrade: 401/403
        try:
            follower = self._new_follower(address, request.transport)
        except TooManyFollowers as exc:
            return _error(503, str(exc), **{"Retry-After": "30"})
        ws = web.WebSocketResponse(heartbeat=self.ctx.settings.heartbeat, max_msg_size=16 * 1024)
        try:
            await ws.prepare(request)
            if not header:
                try:
                    message = await asyncio.wait_for(ws.receive(), WS_AUTH_TIMEOUT)
                    if message.type != WSMsgType.TEXT:
                        raise AccessDenied(401, 'send the credentials first: {"authorization": "…"}')
                    sent = json.loads(message.data).get("authorization")
                    await self._reader(sent if isinstance(sent, str) else None, address)
                except TimeoutError:
                    await ws.close(code=4401, message=b"no credentials in time")
                    return ws
                except (AccessDenied, ValueError, AttributeError) as exc:
                    status = exc.status if isinstance(exc, AccessDenied) else 401
                    await ws.close(code=4000 + status, message=str(exc)[:120].encode())
                    return ws

            async def send(items: list[Item]) -> None:
                for item in items:
                    if ws.closed:
                        raise ConnectionResetError("the client left")
                    await ws.send_str(item.json)

            reader = asyncio.ensure_future(_drain_incoming(ws))
            try:
                with contextlib.suppress(ConnectionError):
                    await self._follow(address, send, follower)
            finally:
                reader.cancel()
            await ws.close()
            return ws
        finally:
            self.fanout.unfollow(follower)


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what a following client sends, so pings and its close are seen."""
    async for _ in ws:
        pass


def _open_log(
    store: FlowStore, address: str, flow: Flow | None, skip: dict[tuple[str, int], int] | None = None
) -> StoredLog:
    ops = [op.id for op in flow.ops] if flow is not None else []
    return StoredLog(store.flow_dir(address) / "logs", ops, skip)


def _page() -> tuple[str, str]:
    """The status page and the CSP hash of its one inline script."""
    text = resources.files("nosana_node.api").joinpath("page.html").read_text(encoding="utf-8")
    script = re.search(r"<script>(.*?)</script>", text, re.S)
    digest = hashlib.sha256((script.group(1) if script else "").encode()).digest()
    return text, "sha256-" + base64.b64encode(digest).decode()


class ApiServer:
    """Serves an :class:`ApiContext` on ``settings.address:port`` from a thread of its own."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.api: Api | None = None
        self.port: int | None = None
        self.guard: ConnectionGuard | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = self.ctx.settings.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ApiServer:
        """Bind and serve; raises :class:`NosanaError` when the address cannot be bound."""
        self._thread = threading.Thread(target=self._serve, name="api-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise NosanaError("the node's API did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start()
            self._error = self._error or exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        api = self.api = Api(self.ctx, asyncio.get_running_loop())
        runner = web.AppRunner(
            api.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0, handler_cancellation=True
        )
        await runner.setup()
        s = self.ctx.settings
        guard = ConnectionGuard(s.max_connections, "the node's API", "its max-connections")
        files = raise_open_files(s.max_connections + RESERVED_FILES)
        if s.max_connections > files - RESERVED_FILES:  # the node's own files come first
            guard.limit = max(16, files - RESERVED_FILES)
            log.warning("the node's API: %d open files allowed: at most %d connections", files, guard.limit)
        try:
            site = GuardedSite(runner, s.address, s.port, guard)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            api.close()
            self._error = NosanaError(f"the node's API cannot listen on {s.address}:{s.port}: {exc.strerror}")
            return
        self.guard = guard
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else s.port
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            api.close()
            await runner.cleanup()

    def stop(self) -> None:
        """Close every connection and the listening socket; wait for the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.ctx.health.close()
