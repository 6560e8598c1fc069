"""Solana PubSub over one WebSocket, on its own thread; subscriptions survive reconnects.

:class:`PubSub` connects on the first subscription and keeps the connection up: when it drops
it reconnects with jittered backoff (1-30 s) and subscribes everything again. Each subscription
hears its notifications (``on_message``) and the state of its subscription (``on_state``: True
once the server acknowledged it, False when the connection dropped), so that a consumer can
poll while it is down and read the current state again once it is back (see :mod:`.watch`).
Callbacks run on the PubSub thread and must not block.

    pubsub = PubSub("ws://127.0.0.1:8900")
    sub = pubsub.subscribe("accountSubscribe", [str(job), {"encoding": "base64"}], on_message)
    ...
    sub.close(); pubsub.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from nosana_node.chain.failures import from_transport
from nosana_node.chain.retry import Backoff

log = logging.getLogger("nosana_node.chain")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
RECONNECT = Backoff(first=1.0, cap=30.0, budget=float("inf"))


class Subscription:
    """One subscription; :meth:`close` unsubscribes."""

    def __init__(
        self,
        pubsub: PubSub,
        method: str,
        params: list[Any],
        on_message: Callable[[Any], None],
        on_state: Callable[[bool], None] | None,
        once: bool,
    ) -> None:
        self.pubsub, self.method, self.params = pubsub, method, params
        self.on_message, self.on_state, self.once = on_message, on_state, once
        self.server_id: int | None = None
        self.closed = False

    @property
    def active(self) -> bool:
        """Acknowledged by the server on the current connection."""
        return self.server_id is not None and not self.closed

    def close(self) -> None:
        self.pubsub._remove(self)


class PubSub:
    """A reconnecting PubSub connection to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        reconnect: Backoff = RECONNECT,
        open_timeout: float = 10.0,
        ping_interval: float = 20.0,
    ) -> None:
        self.url = url
        self.reconnect, self.open_timeout, self.ping_interval = reconnect, open_timeout, ping_interval
        self._subs: list[Subscription] = []
        self._by_request: dict[int, Subscription] = {}
        self._by_server: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws: Any = None
        self._stop: asyncio.Event | None = None
        self._closed = False
        self._tasks: set[asyncio.Future[Any]] = set()
        #: set while a connection is up
        self.connected = threading.Event()
        #: set once a connection failed or dropped, until one is up again
        self.failing = threading.Event()
        #: connections made so far (tests and benchmarks read it)
        self.connections = 0

    # -- public -----------------------------------------------------------------------------------
    def subscribe(
        self,
        method: str,
        params: list[Any],
        on_message: Callable[[Any], None],
        on_state: Callable[[bool], None] | None = None,
        *,
        once: bool = False,
    ) -> Subscription:
        """Subscribe (``accountSubscribe``, ``programSubscribe``, ``signatureSubscribe``, ...).

        ``once``: the subscription ends after its first notification (signatures).
        """
        sub = Subscription(self, method, params, on_message, on_state, once)
        with self._lock:
            if self._closed:
                raise RuntimeError("PubSub is closed")
            self._subs.append(sub)
            self._start()
            loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(lambda: self._spawn(self._send_subscribe(sub)))
        return sub

    def close(self) -> None:
        """Close the connection and stop the thread."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stop is not None:
            loop.call_soon_threadsafe(self._stop.set)
        thread.join(timeout=10)

    def __enter__(self) -> PubSub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread -------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._stop = asyncio.Event()
            ready.set()
            try:
                self._loop.run_until_complete(self._run())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="chain-pubsub", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        assert self._stop is not None
        delays = self.reconnect.delays()
        while not self._stop.is_set():
            try:
                async with connect(
                    self.url,
                    open_timeout=self.open_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_interval,
                    max_size=MAX_MESSAGE_BYTES,
                    close_timeout=2,
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    self.failing.clear()
                    self.connected.set()
                    delays = self.reconnect.delays()
                    for sub in list(self._subs):
                        await self._send_subscribe(sub)
                    reader = asyncio.ensure_future(self._read(ws))
                    stopper = asyncio.ensure_future(self._stop.wait())
                    await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (reader, stopper):
                        task.cancel()
                    if reader.done() and not reader.cancelled() and reader.exception() is not None:
                        raise reader.exception()  # type: ignore[misc]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # mapped in failures.py; logged, then reconnect
                if not self._stop.is_set():
                    log.info("%s; reconnecting", from_transport(exc, self.url, what="PubSub endpoint"))
            finally:
                self._dropped()
            if self._stop.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), next(delays))

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict):
                self._handle(message)

    def _dropped(self) -> None:
        self._ws = None
        self.connected.clear()
        self.failing.set()
        self._by_request.clear()
        self._by_server.clear()
        for sub in list(self._subs):
            was_active = sub.server_id is not None
            sub.server_id = None
            if sub.on_state is not None and was_active:
                _safely(sub.on_state, False)

    async def _send_subscribe(self, sub: Subscription) -> None:
        ws = self._ws
        if ws is None or sub.closed or sub.server_id is not None or sub in self._by_request.values():
            return
        rid = next(self._ids)
        self._by_request[rid] = sub
        request = {"jsonrpc": "2.0", "id": rid, "method": sub.method, "params": sub.params}
        with contextlib.suppress(Exception):  # a dead socket is noticed by the reader
            await ws.send(json.dumps(request))

    def _handle(self, message: dict[str, Any]) -> None:
        if "id" in message and message.get("id") in self._by_request:
            sub = self._by_request.pop(message["id"])
            if "error" in message:
                log.warning("%s refused: %s", sub.method, (message["error"] or {}).get("message"))
                return
            if sub.closed:
                self._unsubscribe_server(sub.method, message.get("result"))
                return
            sub.server_id = message.get("result")
            if isinstance(sub.server_id, int):
                self._by_server[sub.server_id] = sub
                if sub.on_state is not None:
                    _safely(sub.on_state, True)
            return
        params = message.get("params")
        if not isinstance(params, dict) or not str(message.get("method", "")).endswith("Notification"):
            return
        sub = self._by_server.get(params.get("subscription"))  # type: ignore[arg-type]
        if sub is None or sub.closed:
            return
        result = params.get("result")
        value = result.get("value") if isinstance(result, dict) and "value" in result else result
        if sub.once:
            self._forget(sub)
        _safely(sub.on_message, value)

    def _forget(self, sub: Subscription) -> None:
        sub.closed = True
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
        if sub.server_id is not None:
            self._by_server.pop(sub.server_id, None)

    def _remove(self, sub: Subscription) -> None:
        if sub.closed:
            return
        server_id = sub.server_id
        self._forget(sub)
        loop = self._loop
        if loop is not None and server_id is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._unsubscribe_server, sub.method, server_id)

    def _unsubscribe_server(self, method: str, server_id: Any) -> None:
        ws = self._ws
        if ws is None or not isinstance(server_id, int):
            return
        request = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method.replace("Subscribe", "Unsubscribe"),
            "params": [server_id],
        }

        async def send() -> None:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps(request))

        self._spawn(send())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _safely(callback: Callable[[Any], None], value: Any) -> None:
    try:
        callback(value)
    except Exception:  # a consumer's bug must not kill the connection
        log.exception("chain subscription callback failed")
