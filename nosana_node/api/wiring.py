"""The node's API assembled from its configuration and its parts (``node start`` calls
:func:`serve_node_api` once the start-up checks passed, before the loop takes a job).

What it connects: a :class:`~.bus.LogBus` is the flow runner's reporter (:func:`node_bus`: live
lines, and the node's log of op changes, API or not), the node's event hub feeds the metrics,
the RPC client reports each request to the metrics, the chain answers ``/status`` and who
posted a job; the checks of ``/health`` are the engine, the node's RPC endpoint, its secret
backend and its home's disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from nosana_node import __version__
from nosana_node.api.access import Access, ChainParties, operator_token
from nosana_node.api.bus import BusEvent, LogBus, OpChange
from nosana_node.api.chainstatus import ChainStatus
from nosana_node.api.health import Health, disk_check, engine_check, rpc_check, vault_check
from nosana_node.api.nodemetrics import NodeMetrics
from nosana_node.api.nodeview import PartsView
from nosana_node.api.server import ApiContext, ApiServer, ApiSettings
from nosana_node.errors import NosanaError, UserInputError
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.masking import process_masker

log = logging.getLogger("nosana_node.api")


class NodeApi:
    """The running API of a node and what it holds open; :meth:`stop` closes it all."""

    def __init__(self, server: ApiServer, closers: list[Any]) -> None:
        self.server = server
        self._closers = closers

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # close the others anyway
                log.exception("closing the node's API")


def log_ops(event: BusEvent) -> None:
    """The node's log of its jobs' ops: one line when each starts and when it ends, with ids."""
    if not isinstance(event, OpChange):
        return
    kind = "op-started" if event.status == "running" else "op-ended"
    text = "started" if event.status == "running" else f"ended: {event.status}"
    attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
    extra = {"event": kind, "job": event.flow, "op": event.op}
    (log.warning if event.status in ("failed", "expired") else log.info)(
        "job %s op %s %s%s", event.flow, event.op, text, attempt, extra=extra
    )


def node_bus(parts: Any) -> LogBus:
    """The flow runner's reporter in ``node start``, with or without an API: a :class:`LogBus`
    whose op changes go to the node's log (:func:`log_ops`)."""
    bus = LogBus()
    parts.runner.reporter = bus
    bus.listen(log_ops)
    return bus


def serve_node_api(loaded: Any, parts: Any, bus: LogBus) -> NodeApi | None:
    """Start the API of the node made of ``parts``, its live lines from ``bus`` (the runner's
    reporter, :func:`node_bus`); None when ``:node :api`` is false. A port that cannot be bound
    is a :class:`UserInputError` naming it.
    """
    config = loaded.config
    listen = config.node.api
    if not listen.enabled:
        return None
    home = Path(config.home)
    closers: list[Any] = []
    view = PartsView(parts)
    token = operator_token(home)
    process_masker().add(token)  # never in a log line or a response
    store = FlowStore(home)  # the API's own connection: reads never wait on the runner's writes
    closers.append(store.close)
    vault = _vault(loaded)
    if vault is not None:
        closers.append(vault.close)
    endpoint = parts.chain.endpoint
    market = Pubkey.from_string(view.market)

    def read_job(job: str) -> tuple[str, str] | None:
        account = parts.chain.job(Pubkey.from_string(job))
        return None if account is None else (str(account.project), str(account.payer))

    server_box: list[ApiServer] = []
    metrics = NodeMetrics(
        version=__version__,
        wallet=view.wallet,
        market=view.market,
        network=view.network,
        containers=lambda: bus.running_containers,
        followers=lambda: server_box[0].api.fanout.count if server_box and server_box[0].api else 0,
        resources=home / "resources",
    )
    metrics.seed(view.history())
    closers.append(view.subscribe(lambda event: metrics.event(event, view.job)))
    parts.chain.rpc.observe(metrics.rpc)
    checks = [
        engine_check(parts.runner.settings.docker_url),
        rpc_check(parts.chain.rpc.call_once, endpoint.rpc_url),
        vault_check(vault.ping if vault is not None else lambda: "no vault configured"),
        disk_check(home, config.node.min_free_disk),
    ]
    ctx = ApiContext(
        home=home,
        version=__version__,
        store=store,
        bus=bus,
        access=Access(view.wallet, token, ChainParties(read_job)),
        health=Health(checks),
        metrics=metrics,
        view=view,
        chain=ChainStatus(parts.chain, market, market_name=endpoint.market_name(market)),
        settings=ApiSettings(address=listen.address, port=listen.port),
    )
    server = ApiServer(ctx)
    server_box.append(server)
    try:
        server.start()
    except NosanaError as exc:
        for close in reversed(closers):
            close()
        raise UserInputError(f"{exc} (set :node :api, or false to serve no API)") from None
    return NodeApi(server, closers)


def _vault(loaded: Any) -> Any:
    from nosana_node import wiring

    try:
        return wiring.vault_for(loaded)
    except NosanaError as exc:
        log.warning("the API's vault check has no vault: %s", exc)
        return None
