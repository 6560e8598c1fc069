"""What a node is made of, built once from the configuration (:func:`build_parts`).

:class:`NodeParts` holds the chain client (signing as the node's wallet), the content store of
job documents and results, the flow runner (with :class:`~.secrets.MarketSecrets` in front of the
node's secret backends), the node's own records (:class:`~.state.NodeDb`), the event hub and
read model, the ``:node`` settings, the market and the clock. The loop, the job processor, the
start-up checks and the status command all take it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from nosana_node.clock import SYSTEM_CLOCK, Clock
from nosana_node.node.events import NodeEvents, NodeState
from nosana_node.node.state import NodeDb

if TYPE_CHECKING:
    from nosana_node.chain.client import ChainClient
    from nosana_node.config.load import LoadedConfig
    from nosana_node.config.schema import NodeSettings
    from nosana_node.flow.runner import FlowRunner
    from nosana_node.storage.base import Storage


@dataclass
class NodeParts:
    """Everything the node loop uses."""

    chain: ChainClient
    storage: Storage
    runner: FlowRunner
    db: NodeDb
    settings: NodeSettings
    market: Pubkey
    network: str
    config: Any  # the NodeConfig
    events: NodeEvents = field(default_factory=NodeEvents)
    clock: Clock = SYSTEM_CLOCK
    state: NodeState = field(init=False)

    def __post_init__(self) -> None:
        self.state = NodeState(
            self.events, wallet=str(self.wallet), market=str(self.market), network=self.network
        )

    @property
    def wallet(self) -> Pubkey:
        return self.chain.wallet

    def close(self) -> None:
        """Close everything (sockets, threads, databases)."""
        self.state.close()
        for close in (self.chain.close, self.storage.close, self.runner.close, self.db.close):
            try:
                close()
            except Exception:  # close the others anyway
                import logging

                logging.getLogger("nosana_node.node").exception("closing the node's parts")


def build_parts(loaded: LoadedConfig, market: str | None = None, *, clock: Clock | None = None) -> NodeParts:
    """The parts of a node for ``market`` (name or address; default ``:market``)."""
    from nosana_node import wiring
    from nosana_node.flow.runner import FlowRunner
    from nosana_node.node.secrets import MarketSecrets

    config = loaded.config
    chain = wiring.chain_for(loaded, role="node")
    try:
        address = chain.endpoint.market(market or config.market)
        storage = wiring.storage_for(loaded)
    except BaseException:
        chain.close()
        raise
    secrets = MarketSecrets(
        wiring.secrets_for(loaded),
        nosana_endpoint=config.vault.nosana_endpoint,
        vault_secrets=config.node.vault_secrets,
    )
    runner = FlowRunner(
        wiring.runner_settings(config), wiring.op_types(config), secrets=secrets, clock=clock or SYSTEM_CLOCK
    )
    return NodeParts(
        chain=chain,
        storage=storage,
        runner=runner,
        db=NodeDb(config.home),
        settings=config.node,
        market=address,
        network=chain.endpoint.network,
        config=config,
        clock=clock or SYSTEM_CLOCK,
    )
