"""A local market served on free ports for each test: real LiteSVM, real JSON-RPC, real WebSocket.

The server side is the project's (:class:`Localnet` + :class:`ServerThread`); the client side of
the tests is the plain Solana Python client (``solana.rpc``), raw JSON-RPC over httpx, and
:mod:`.spec_client` (instructions and layouts written from the spec with solders only).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from solana.rpc.commitment import Finalized
from solana.rpc.websocket_api import connect
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.responses import SignatureNotification
from solders.signature import Signature

from nosana_node.localnet.clock import ManualClock, SlotClock
from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.server import ServerThread

T = TypeVar("T")

#: One HTTP client for the tests' calls (httpx.post builds a client, TLS context included, per call).
HTTP = httpx.Client()

#: Reads that see a transaction as soon as it has run (the default, finalized, waits for a commit).
CONFIRMED = {"commitment": "confirmed"}


@dataclass
class Served:
    """A local market being served, and what a client needs to know about it."""

    net: Localnet
    server: ServerThread
    ledger: Path
    clock: ManualClock | None = None  # set: slots move only when the test moves this clock

    @property
    def rpc_url(self) -> str:
        return self.server.rpc_url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    def keypair(self, name: str) -> Keypair:
        return Keypair.from_bytes(bytes(json.loads((self.ledger / "keys" / f"{name}.json").read_text())))

    def market(self, name: str = "default") -> tuple[Pubkey, Pubkey]:
        """(address, vault) of a genesis market."""
        m = self.net.genesis["markets"][name]
        return Pubkey.from_string(m["address"]), Pubkey.from_string(m["vault"])

    def raw(self, method: str, *params: Any) -> dict[str, Any]:
        """One raw JSON-RPC call; the whole response object."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return HTTP.post(self.rpc_url, json=body, timeout=30).json()

    def result(self, method: str, *params: Any) -> Any:
        response = self.raw(method, *params)
        assert "error" not in response, response
        return response["result"]

    def commit(self) -> int:
        """End the current slot and commit it to the ledger now (the server does so every
        slot); returns the finalized slot."""
        self.net.chain.flush()
        return self.net.chain.finalized_slot


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def wait_finalized(ws_url: str, signature: str, timeout: float = 15.0) -> None:
    """Wait, up to ``timeout`` seconds, for the commit notification of ``signature``: its
    ``finalized`` signature notification (it comes at once if it is final already)."""
    async with connect(ws_url) as ws:
        await ws.signature_subscribe(Signature.from_string(signature), commitment=Finalized)
        async with asyncio.timeout(timeout):
            while not any(isinstance(m, SignatureNotification) for m in await ws.recv()):
                pass


def _serve(ledger: Path, clock: ManualClock | None = None) -> Iterator[Served]:
    make = (lambda start: SlotClock(start, monotonic=clock, wall=clock)) if clock else None
    net = Localnet.open(ledger, clock=make)
    server = ServerThread(net.chain).start()
    try:
        yield Served(net, server, ledger, clock)
    finally:
        server.stop()
        net.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The local market on wall time: a slot every 400 ms, committed as it ends."""
    yield from _serve(tmp_path / "ledger")


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Served]:
    """The local market on a manual clock: no slot ends (and nothing is finalized) until the
    test moves ``held.clock`` or calls ``held.commit()``."""
    yield from _serve(tmp_path / "ledger", ManualClock())
