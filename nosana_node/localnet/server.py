"""The local market's endpoints: JSON-RPC over HTTP and PubSub over WebSocket (aiohttp).

:class:`LocalnetServer` serves a :class:`~.chain.LocalChain` on two ports (8899 and 8900 by
default, as solana-test-validator does). Rules:

* light requests (sends, single reads) run on the event loop, one at a time; heavy ones
  (:meth:`RpcMethods.heavy`: program scans, history, blocks, batches) run, and are encoded, on
  a small thread pool, so one client's scan never stalls the others or the slot clock;
* every slot the server seals the ending slot and commits it to the ledger from a thread of
  its own; a failed commit is logged once (and its end once), and transactions are refused
  meanwhile (:class:`~.chain.LedgerUnavailable`, JSON-RPC -32005);
* :class:`~.limits.ServerLimits` bounds bodies, batches, connections, idle time and what may
  queue up for a WebSocket subscriber (one that does not read is disconnected).

:class:`ServerThread` runs a server on a background thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import WSMsgType, web

from nosana_node.errors import UserInputError
from nosana_node.localnet import ipfs
from nosana_node.localnet.chain import LedgerUnavailable, LocalChain
from nosana_node.localnet.encoding import RpcError
from nosana_node.localnet.guard import ConnectionGuard, GuardedSite
from nosana_node.localnet.limits import ServerLimits, raise_open_files
from nosana_node.localnet.params import dumps, error, parse_body
from nosana_node.localnet.rpc import RpcMethods
from nosana_node.localnet.subscriptions import Subscriptions

log = logging.getLogger(__name__)

_INTERNAL_ERROR = dumps(error(None, RpcError(-32603, "Internal error")))


class _WsConnection:
    """One WebSocket client: an ordered outbox, drained by a writer task, bounded in bytes."""

    def __init__(self, ws: web.WebSocketResponse, transport: Any, limit: int) -> None:
        self.ws, self._transport, self._limit = ws, transport, limit
        self._outbox: deque[str] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self.dropped = False

    def send(self, text: str) -> None:
        if self.dropped:
            return
        if self._queued + len(text) > self._limit:
            self.dropped = True
            self._outbox.clear()
            log.warning(
                "local market: a WebSocket subscriber fell %d bytes behind: disconnected", self._queued
            )
            if self._transport is not None:
                self._transport.abort()  # it does not read: a close frame would never get through
            return
        self._outbox.append(text)
        self._queued += len(text)
        self._ready.set()

    async def pump(self) -> None:
        while True:
            await self._ready.wait()
            while self._outbox:
                text = self._outbox.popleft()
                self._queued -= len(text)
                await self.ws.send_str(text)
            self._ready.clear()


class LocalnetServer:
    """HTTP JSON-RPC and WebSocket PubSub for one local chain."""

    def __init__(
        self,
        chain: LocalChain,
        host: str = "127.0.0.1",
        rpc_port: int = 8899,
        ws_port: int = 8900,
        limits: ServerLimits | None = None,
    ) -> None:
        self.chain = chain
        self.host, self.rpc_port, self.ws_port = host, rpc_port, ws_port
        self.limits = limits or ServerLimits()
        self.rpc = RpcMethods(chain)
        self.subscriptions = Subscriptions(chain)
        self.guard = ConnectionGuard(self.limits.max_connections)
        self._runners: list[web.AppRunner] = []
        self._ticker: asyncio.Task[None] | None = None
        self._unlisten: Any = None
        self._readers = ThreadPoolExecutor(self.limits.read_threads, thread_name_prefix="localnet-read")
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="localnet-commit")
        self._failing = False

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}"

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind both ports (0 picks a free one) and start serving."""
        files = raise_open_files(self.limits.max_connections + 256)
        if self.limits.max_connections > files - 128:  # keep files for the ledger, threads, logs
            self.guard.limit = max(16, files - 128)
            log.warning(
                "local market: %d open files allowed: at most %d connections", files, self.guard.limit
            )
        http = web.Application()
        http.router.add_post("/", self._http)
        http.router.add_get("/health", self._health)
        ipfs.mount(http, self.chain)  # the network's IPFS endpoint (kubo RPC subset, gateway)
        ws = web.Application()
        ws.router.add_get("/", self._ws)
        self.rpc_port = await self._bind(http, self.rpc_port, "--rpc-port")
        self.ws_port = await self._bind(ws, self.ws_port, "--ws-port")
        loop = asyncio.get_running_loop()
        dispatch = self.subscriptions.dispatch
        self._unlisten = self.chain.subscribe(lambda event: loop.call_soon_threadsafe(dispatch, event))
        self._ticker = asyncio.create_task(self._slots())

    async def _bind(self, app: web.Application, port: int, flag: str) -> int:
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.limits.read_timeout,  # no request (or no headers) in time: closed
            lingering_time=min(1.0, self.limits.read_timeout),  # after a 408 or 413: closed soon
        )
        await runner.setup()
        try:
            await GuardedSite(runner, self.host, port, self.guard).start()
        except OSError as exc:
            await runner.cleanup()
            await self.stop()
            if exc.errno == errno.EADDRINUSE:
                raise UserInputError(
                    f"port {port} on {self.host} is in use (another local market or validator?): "
                    f"choose another with {flag}"
                ) from None
            raise UserInputError(f"cannot listen on {self.host}:{port}: {exc.strerror}") from None
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and commit the chain to its ledger."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        self._readers.shutdown(wait=True, cancel_futures=True)
        self._committer.shutdown(wait=True)
        try:
            self.chain.flush()
        except LedgerUnavailable as exc:
            log.error("local market: %s", exc)

    async def _slots(self) -> None:
        """Every slot: seal the ending one and commit it, off the event loop."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.chain.clock.until_next() + 0.002)
            self.chain.tick()
            try:
                await loop.run_in_executor(self._committer, self.chain.commit)
            except LedgerUnavailable as exc:
                if not self._failing:
                    self._failing = True
                    log.error("%s", exc)
                continue
            except Exception:
                log.exception("local market: slot commit failed")
                continue
            if self._failing:
                self._failing = False
                log.warning("local market: the ledger is written again; accepting transactions")

    # -- HTTP ---------------------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        if self.chain.commit_error is not None:
            return web.Response(status=503, text="unhealthy: the ledger cannot be written")
        return web.Response(text="ok")

    async def _body(self, request: web.Request) -> bytes:
        """The request body, within the size and time limits (413 / 408 otherwise)."""
        limit = self.limits.max_body
        length = request.content_length
        if length is not None and length > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
        try:
            async with asyncio.timeout(self.limits.read_timeout):
                if length is not None:
                    return await request.content.readexactly(length)
                chunks, size = [], 0
                while chunk := await request.content.read(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                    chunks.append(chunk)
                return b"".join(chunks)
        except TimeoutError:
            raise web.HTTPRequestTimeout(
                text="request body too slow", headers={"Connection": "close"}
            ) from None
        except asyncio.IncompleteReadError:
            raise web.HTTPBadRequest(text="request body shorter than its Content-Length") from None

    async def _http(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            parsed = parse_body(body)
        except RpcError as exc:
            return web.Response(text=dumps(error(None, exc)), content_type="application/json")
        if self.rpc.heavy(parsed):
            text = await asyncio.get_running_loop().run_in_executor(self._readers, self._answer, parsed)
        else:
            text = self._answer(parsed)
        return web.Response(text=text, content_type="application/json")

    def _answer(self, parsed: Any) -> str:
        response = self.rpc.handle(parsed)
        if response is None:
            return ""
        try:
            return dumps(response)
        except (ValueError, TypeError):
            log.exception("local market: an answer could not be encoded")
            return _INTERNAL_ERROR

    # -- WebSocket ----------------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=self.limits.ws_max_message)
        await ws.prepare(request)
        conn = _WsConnection(ws, request.transport, self.limits.ws_max_queued)
        writer = asyncio.create_task(conn.pump())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    answer, followups = self._ws_request(conn, message.data)
                    conn.send(answer)
                    for text in followups:
                        conn.send(text)
        finally:
            self.subscriptions.drop(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return ws

    def _ws_request(self, conn: _WsConnection, text: str) -> tuple[str, list[str]]:
        """The answer to one (un)subscribe request, and messages to send right after it."""
        rid: Any = None
        try:
            request = parse_body(text.encode())
            if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
                raise RpcError(-32600, "Invalid request")
            rid, method = request.get("id"), request.get("method")
            params = request.get("params") or []
            if not isinstance(method, str) or not isinstance(params, list):
                raise RpcError(-32600, "Invalid request")
            if not self.subscriptions.handles(method):
                raise RpcError(-32601, "Method not found")
            result, followups = self.subscriptions.request(conn, method, params)
        except RpcError as exc:
            return dumps(error(rid if isinstance(rid, int | str) else None, exc)), []
        return dumps({"jsonrpc": "2.0", "result": result, "id": rid}), followups


class ServerThread:
    """A :class:`LocalnetServer` on its own thread and event loop.

    with ServerThread(chain) as server:
        client = AsyncClient(server.rpc_url)
    """

    def __init__(
        self,
        chain: LocalChain,
        host: str = "127.0.0.1",
        rpc_port: int = 0,
        ws_port: int = 0,
        limits: ServerLimits | None = None,
    ):
        self.server = LocalnetServer(chain, host, rpc_port, ws_port, limits)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="localnet-server", daemon=True)

    @property
    def rpc_url(self) -> str:
        return self.server.rpc_url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    def start(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
