"""A fault-injecting proxy between a Solana client and a JSON-RPC/PubSub endpoint (tests only).

It speaks the real protocols on both sides (HTTP JSON-RPC and WebSocket PubSub, through
aiohttp) and misbehaves on purpose, at random with a seeded generator:

* HTTP requests: ``drop`` of them are lost - half before they reach the endpoint (the client sees
  its connection reset), half after (the endpoint acted, e.g. a transaction landed, but the
  answer is lost) - and ``delay`` of them are held ``delay_range`` seconds first;
* WebSockets: each message to the client closes its socket with probability ``ws_close`` (half
  the time the message is lost with it);
  ``ws_refuse`` of new connections are refused.

``rule`` lets a test act on chosen requests: ``rule(method, params)`` returns None (apply the
plan), one of ``"pass"``, ``"drop-before"``, ``"drop-after"``, ``"hang"``, ``"http-503"``,
``"node-behind"`` (JSON-RPC error -32005), or ``("answer", result)`` to answer with ``result``
(a stand-in for what the endpoint cannot show, e.g. a congested cluster's priority fees). It
runs on the proxy's loop and may do work first (e.g. expire a blockhash).
:attr:`FaultProxy.stats` counts everything.

    with FaultProxy(rpc_url, ws_url, FaultPlan(drop=0.2, delay=0.2, ws_close=0.2)) as proxy:
        client = RpcClient(proxy.rpc_url)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

Rule = Callable[[str, list[Any]], Any]


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and how often (fractions between 0 and 1)."""

    drop: float = 0.0
    delay: float = 0.0
    delay_range: tuple[float, float] = (0.02, 0.3)
    ws_close: float = 0.0
    ws_refuse: float = 0.0
    seed: int = 1


class FaultProxy:
    """The proxy, served on two free ports of 127.0.0.1 by a background thread."""

    def __init__(self, rpc_url: str, ws_url: str, plan: FaultPlan, rule: Rule | None = None) -> None:
        self.upstream_rpc, self.upstream_ws = rpc_url, ws_url
        self.plan, self.rule = plan, rule
        self.rng = random.Random(plan.seed)
        self.stats: Counter[str] = Counter()
        self.rpc_url = self.ws_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._runners: list[web.AppRunner] = []
        self._session: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._hung: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self._hung = asyncio.Event()
        http = web.Application(client_max_size=64 * 1024 * 1024)
        http.router.add_post("/", self._http)
        ws = web.Application()
        ws.router.add_get("/", self._ws)
        ports = []
        for app in (http, ws):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._runners.append(runner)
            ports.append(runner.addresses[0][1])
        self.rpc_url, self.ws_url = f"http://127.0.0.1:{ports[0]}", f"ws://127.0.0.1:{ports[1]}"

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._hung is not None
        self._hung.set()
        for sock in list(self._sockets):
            await sock.close()
        for runner in self._runners:
            await runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def close_websockets(self) -> None:
        """Close every client WebSocket now (from any thread)."""

        async def close() -> None:
            for sock in list(self._sockets):
                await sock.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP -------------------------------------------------------------------------------------
    def _decide(self, method: str, params: list[Any]) -> Any:
        if self.rule is not None:
            chosen = self.rule(method, params)
            if chosen is not None:
                return chosen
        if self.rng.random() < self.plan.drop:
            return "drop-before" if self.rng.random() < 0.5 else "drop-after"
        return "pass"

    async def _http(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed = json.loads(body)
            method, params = str(parsed.get("method")), list(parsed.get("params") or [])
        except (ValueError, AttributeError, TypeError):
            method, params = "?", []
        self.stats["requests"] += 1
        self.stats[f"requests:{method}"] += 1
        action = self._decide(method, params)
        if isinstance(action, tuple) and action[0] == "answer":
            self.stats["answered"] += 1
            reply = {"jsonrpc": "2.0", "id": parsed.get("id"), "result": action[1]}
            return web.json_response(reply)
        if action == "http-503":
            self.stats["http-503"] += 1
            return web.Response(status=503, text="Service Unavailable")
        if action == "node-behind":
            self.stats["node-behind"] += 1
            error = {"code": -32005, "message": "Node is behind by 42 slots", "data": {"numSlotsBehind": 42}}
            return web.json_response({"jsonrpc": "2.0", "id": parsed.get("id"), "error": error})
        if action == "pass" and self.rng.random() < self.plan.delay:
            self.stats["delayed"] += 1
            await asyncio.sleep(self.rng.uniform(*self.plan.delay_range))
        if action == "hang":
            self.stats["hung"] += 1
            assert self._hung is not None
            await self._hung.wait()
            return self._reset(request)
        if action == "drop-before":
            self.stats["dropped-before"] += 1
            self.stats[f"dropped:{method}"] += 1
            return self._reset(request)
        assert self._session is not None
        async with self._session.post(
            self.upstream_rpc, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            answer = await upstream.read()
            status = upstream.status
        if action == "drop-after":
            self.stats["dropped-after"] += 1
            self.stats[f"dropped:{method}"] += 1
            return self._reset(request)
        return web.Response(body=answer, status=status, content_type="application/json")

    @staticmethod
    def _reset(request: web.Request) -> web.StreamResponse:
        """Close the client's connection without an answer."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)  # never reaches the client

    # -- WebSocket --------------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.stats["ws-connections"] += 1
        if self.rng.random() < self.plan.ws_refuse:
            self.stats["ws-refused"] += 1
            return web.Response(status=503, text="refused by the fault proxy")
        client = web.WebSocketResponse()
        await client.prepare(request)
        self._sockets.add(client)
        assert self._session is not None
        try:
            async with self._session.ws_connect(self.upstream_ws) as upstream:
                up = asyncio.ensure_future(self._pump(client, upstream, "up"))
                down = asyncio.ensure_future(self._pump(upstream, client, "down"))
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
                for task in (up, down):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        except aiohttp.ClientError:
            self.stats["ws-upstream-failed"] += 1
        finally:
            self._sockets.discard(client)
            await client.close()
        return client

    async def _pump(self, source: Any, sink: Any, direction: str) -> None:
        async for message in source:
            if message.type != WSMsgType.TEXT:
                break
            self.stats[f"ws-{direction}"] += 1
            closing = direction == "down" and self.rng.random() < self.plan.ws_close
            if closing and self.rng.random() < 0.5:  # the message is lost with the socket
                self.stats["ws-closed"] += 1
                self.stats["ws-lost"] += 1
                return
            await sink.send_str(message.data)
            if closing:
                self.stats["ws-closed"] += 1
                return
