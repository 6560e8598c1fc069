"""The chain client against a local market served on free ports (real LiteSVM, JSON-RPC, PubSub)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from solders.keypair import Keypair

from nosana_node.chain.client import ChainClient, ClientOptions
from nosana_node.chain.endpoint import Endpoint, localnet_endpoint
from nosana_node.chain.provider import SendOptions
from tests.localnet.conftest import Served, served  # noqa: F401 - the local market fixture

FAST = ClientOptions(send=SendOptions(fast_poll_interval=0.2), retry_for=20.0, slow_poll=0.5)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@pytest.fixture
def endpoint(served: Served) -> Endpoint:  # noqa: F811
    return localnet_endpoint(served.ledger, served.rpc_url, served.ws_url)


@pytest.fixture
def connect(endpoint: Endpoint) -> Iterator[Callable[..., ChainClient]]:
    """``connect(keypair_or_name, options=FAST, endpoint=...)``: a client, closed after the test."""
    made: list[ChainClient] = []

    def make(wallet: Keypair | str, options: ClientOptions = FAST, at: Endpoint | None = None) -> ChainClient:
        at = at or endpoint
        keypair = at.local_keypair(wallet) if isinstance(wallet, str) else wallet
        client = ChainClient.connect(at, keypair, options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def ledger(served: Served) -> Path:  # noqa: F811
    return served.ledger
