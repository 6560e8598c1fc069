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


def set_chain_idl(served: Served, idl: str | bytes | None) -> None:  # noqa: F811
    """Write the jobs program's IDL account as a deployer would (None: remove it; bytes: raw data)."""
    from solders.account import Account
    from solders.pubkey import Pubkey

    from nosana_node.chain import pda
    from nosana_node.chain.idl import idl_account_data
    from nosana_node.localnet import raw_accounts

    chain = served.net.chain
    address = pda.idl_address(chain.program_id)
    if idl is None:
        chain.set_account(address, Account(0, b"", Pubkey.default()))
        return
    data = idl if isinstance(idl, bytes) else idl_account_data(idl, served.keypair("admin").pubkey())
    chain.set_account(address, raw_accounts.rent_exempt(chain, data, chain.program_id))


def fresh_node(served: Served, endpoint: Endpoint, *, xnos: int = 10**12, sol: int = 10**9) -> Keypair:  # noqa: F811
    """A new node wallet: SOL from the faucet and a stake account, but no NOS token account."""
    from nosana_node.localnet.genesis import write_stake

    node = Keypair()
    served.result("requestAirdrop", str(node.pubkey()), sol)
    write_stake(served.net.chain, node.pubkey(), endpoint.addresses, xnos)
    return node
