"""From the configuration to a chain client: endpoint, wallet, sending and retry options.

    client = chain_for(config, role="node")   # a NodeConfig (``:network``, ``:rpc-url``, ...)

``role`` picks the local market's test wallet when no ``:keypair`` is configured on localnet
(``client`` posts jobs, ``node`` runs them); elsewhere ``:keypair`` is required to send.
"""

from __future__ import annotations

from typing import Any

from solders.keypair import Keypair

from nosana_node.chain.client import ChainClient, ClientOptions
from nosana_node.chain.endpoint import endpoint_for, wallet_for
from nosana_node.chain.provider import SendOptions


def client_options(config: Any) -> ClientOptions:
    """The client options of a configuration's ``:chain`` section."""
    chain = config.chain
    return ClientOptions(
        send=SendOptions(priority_fee_cap=chain.priority_fee_cap),
        retry_for=chain.retry_for,
        commitment=chain.commitment,
        slow_poll=chain.slow_poll,
    )


def chain_for(config: Any, *, role: str = "client", wallet: Keypair | None = None) -> ChainClient:
    """A :class:`ChainClient` for the configured network, signing as ``wallet`` (default: the
    configured ``:keypair``, or on localnet the test wallet of ``role``)."""
    endpoint = endpoint_for(config)
    return ChainClient.connect(endpoint, wallet or wallet_for(config, endpoint, role), client_options(config))


def readonly_chain_for(config: Any) -> ChainClient:
    """A client that only reads (no keypair needed: a throwaway wallet that never signs)."""
    endpoint = endpoint_for(config)
    secret = getattr(config, "keypair", None)
    wallet = wallet_for(config, endpoint) if secret or endpoint.network == "localnet" else Keypair()
    return ChainClient.connect(endpoint, wallet, client_options(config))
