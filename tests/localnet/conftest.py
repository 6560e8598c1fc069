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
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.server import ServerThread

T = TypeVar("T")


@dataclass
class Served:
    """A local market being served, and what a client needs to know about it."""

    net: Localnet
    server: ServerThread
    ledger: Path

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
        return httpx.post(self.rpc_url, json=body, timeout=30).json()

    def result(self, method: str, *params: Any) -> Any:
        response = self.raw(method, *params)
        assert "error" not in response, response
        return response["result"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    ledger = tmp_path / "ledger"
    net = Localnet.open(ledger)
    server = ServerThread(net.chain).start()
    try:
        yield Served(net, server, ledger)
    finally:
        server.stop()
        net.close()
