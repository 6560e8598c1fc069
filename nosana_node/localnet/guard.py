"""The connection cap of an aiohttp server: the local market's endpoints, the node's API.

The cap counts HTTP and WebSocket connections together: past it a new connection gets ``503``
and is closed, and the log says so once (again only after the count has dropped), so that open
files never run out and the log never floods.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
    b"Connection: close\r\n\r\ntoo many connections, retry.\n"
)


class _Refused(asyncio.Protocol):
    """A connection past the cap: one 503 line, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's handler for one connection, counted while the connection lives."""

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self.inner, self.guard = inner, guard
        guard.open += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.guard.closed()
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class ConnectionGuard:
    """Counts the connections of every site it guards and refuses those past ``limit``."""

    def __init__(self, limit: int, name: str = "local market", setting: str = "--max-connections") -> None:
        self.limit = limit
        self.open = 0
        self.name = name  # who says so in the log
        self.setting = setting  # what sets the limit
        self._refusing = False

    def protocol(self, server: web.Server) -> asyncio.Protocol:
        if self.open >= self.limit:
            if not self._refusing:
                self._refusing = True
                log.warning(
                    "%s: %d connections open, the limit (%s): refusing new ones until some close",
                    self.name,
                    self.limit,
                    self.setting,
                )
            return _Refused()
        return _Counted(server(), self)

    def closed(self) -> None:
        self.open -= 1
        if self._refusing and self.open < self.limit * 9 // 10:
            self._refusing = False
            log.warning("%s: %d connections open: accepting new ones again", self.name, self.open)


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner, host, port, backlog=256)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._guard.protocol(server), self._host, self._port, backlog=self._backlog
        )
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port
