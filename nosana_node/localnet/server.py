"""The local market's endpoints: JSON-RPC over HTTP and PubSub over WebSocket (aiohttp).

:class:`LocalnetServer` serves a :class:`~.chain.LocalChain` on two ports (8899 and 8900 by
default, as solana-test-validator does), advances its slots and flushes it to the ledger every
slot. Requests run one at a time on the server's event loop, so concurrent clients never see
a half-applied transaction; the chain's own lock also keeps in-process users safe.
:class:`ServerThread` runs a server on a background thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import threading
from typing import Any

from aiohttp import WSMsgType, web

from nosana_node.errors import UserInputError
from nosana_node.localnet import ipfs
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.encoding import RpcError
from nosana_node.localnet.rpc import RpcMethods, parse_request
from nosana_node.localnet.subscriptions import Subscriptions

MAX_REQUEST_BYTES = 50 * 1024 * 1024
log = logging.getLogger(__name__)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class _WsConnection:
    """One WebSocket client: an ordered outbox drained by a writer task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    async def pump(self) -> None:
        while True:
            message = await self.outbox.get()
            await self.ws.send_str(_dumps(message))


class LocalnetServer:
    """HTTP JSON-RPC and WebSocket PubSub for one local chain."""

    def __init__(self, chain: LocalChain, host: str = "127.0.0.1", rpc_port: int = 8899, ws_port: int = 8900):
        self.chain = chain
        self.host, self.rpc_port, self.ws_port = host, rpc_port, ws_port
        self.rpc = RpcMethods(chain)
        self.subscriptions = Subscriptions(chain)
        self._runners: list[web.AppRunner] = []
        self._ticker: asyncio.Task[None] | None = None
        self._unlisten: Any = None

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}"

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind both ports (0 picks a free one) and start serving."""
        http = web.Application(client_max_size=MAX_REQUEST_BYTES)
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
        self._ticker = asyncio.create_task(self._tick())

    async def _bind(self, app: web.Application, port: int, flag: str) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, port).start()
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
        """Stop serving and flush the chain to its ledger."""
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
        self.chain.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.4)
            try:
                self.chain.tick()
                self.chain.flush()
            except Exception:  # e.g. the ledger's disk is full: keep serving, say so, retry next slot
                log.exception("local market: slot tick or ledger commit failed")

    # -- handlers ---------------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _http(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            response = self.rpc.handle(parse_request(body))
        except RpcError as exc:
            response = {"jsonrpc": "2.0", "error": exc.to_json(), "id": None}
        return web.Response(text=_dumps(response), content_type="application/json")

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        conn = _WsConnection(ws)
        writer = asyncio.create_task(conn.pump())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    answer = self._ws_request(conn, message.data)
                    if answer is not None:
                        conn.send(answer)
        finally:
            self.subscriptions.drop(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return ws

    def _ws_request(self, conn: _WsConnection, text: str) -> Any:
        try:
            request = parse_request(text.encode())
        except RpcError as exc:
            return {"jsonrpc": "2.0", "error": exc.to_json(), "id": None}
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
        rid, method = request.get("id"), request["method"]
        params = request.get("params") or []
        if not self.subscriptions.handles(method):
            return {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": rid}
        try:
            result = self.subscriptions.request(conn, method, params if isinstance(params, list) else [])
        except RpcError as exc:
            return {"jsonrpc": "2.0", "error": exc.to_json(), "id": rid}
        # a signature that has already landed queued its notification: the answer goes first
        answer = {"jsonrpc": "2.0", "result": result, "id": rid}
        if not conn.outbox.empty():
            queued = []
            while not conn.outbox.empty():
                queued.append(conn.outbox.get_nowait())
            conn.send(answer)
            for item in queued:
                conn.send(item)
            return None
        return answer


class ServerThread:
    """A :class:`LocalnetServer` on its own thread and event loop.

    with ServerThread(chain) as server:
        client = AsyncClient(server.rpc_url)
    """

    def __init__(self, chain: LocalChain, host: str = "127.0.0.1", rpc_port: int = 0, ws_port: int = 0):
        self.server = LocalnetServer(chain, host, rpc_port, ws_port)
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
