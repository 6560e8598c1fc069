"""`nosana-node market`: the markets of the jobs program (read only).

Market names come from the local market for ``--network localnet`` and from ``:markets``
otherwise; every command takes a name or a base58 address.
"""

from __future__ import annotations

from typing import Any

import typer

from nosana_node import units
from nosana_node.cli import chainctx
from nosana_node.cli.chainctx import JSON, NETWORK, RPC_URL

app = typer.Typer(help="Markets of the Nosana jobs program.", no_args_is_help=True)


def market_json(address: Any, market: Any, name: str) -> dict[str, Any]:
    """A market as JSON (amounts in base units, times in seconds)."""
    from nosana_node.chain.accounts import QueueType
    from nosana_node.chain.addresses import OPEN_ACCESS_KEY

    queue_type = QueueType.read(market.queue_type)
    return {
        "address": str(address),
        "name": name,
        "authority": str(market.authority),
        "job_price": market.job_price,
        "job_timeout": market.job_timeout,
        "job_expiration": market.job_expiration,
        "job_type": market.job_type,
        "node_access_key": None if market.node_access_key == OPEN_ACCESS_KEY else str(market.node_access_key),
        "node_xnos_minimum": market.node_xnos_minimum,
        "vault": str(market.vault),
        "queue_type": queue_type.name.lower(),
        "queue": [str(k) for k in market.queue],
    }


def queued(market: Any) -> str:
    """``3 jobs``, ``1 node``, ``empty``."""
    from nosana_node.chain.accounts import QueueType

    if not market.queue:
        return "empty"
    kind = "job" if QueueType.read(market.queue_type) == QueueType.JOB else "node"
    return f"{len(market.queue)} {kind}{'s' if len(market.queue) != 1 else ''}"


@app.command("list")
def list_markets(network: str | None = NETWORK, rpc_url: str | None = RPC_URL, as_json: bool = JSON) -> None:
    """Every market of the jobs program: name, price, timeout, queue, requirements."""
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded, readonly=True) as client:
        markets = client.markets()
        endpoint = client.endpoint
    ordered = sorted(
        markets.items(),
        key=lambda kv: (endpoint.market_name(kv[0]) == "", endpoint.market_name(kv[0]), str(kv[0])),
    )
    if as_json:
        chainctx.emit([market_json(a, m, endpoint.market_name(a)) for a, m in ordered])
        return
    if not ordered:
        print(f"no markets on {endpoint.network} ({endpoint.rpc_url})")
        return
    rows = [
        [
            endpoint.market_name(address) or "-",
            str(address),
            f"{units.nos(m.job_price)}/s",
            chainctx.seconds(m.job_timeout),
            queued(m),
            "open" if market_json(address, m, "")["node_access_key"] is None else "access key",
        ]
        for address, m in ordered
    ]
    print(chainctx.table(rows, ["NAME", "ADDRESS", "PRICE", "TIMEOUT", "QUEUE", "NODES"]))


@app.command("get")
def get_market(
    market: str = typer.Argument(..., help="Market name or address.", show_default=False),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """One market: its settings and its queue."""
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded, readonly=True) as client:
        address = client.endpoint.market(market)
        account = client.market(address)
        name = client.endpoint.market_name(address)
    doc = market_json(address, account, name)
    if as_json:
        chainctx.emit(doc)
        return
    who = "open to all" if doc["node_access_key"] is None else f"holders of {doc['node_access_key']}"
    lines = [
        f"market {address}" + (f" ({name})" if name else ""),
        f"  price          {units.nos(account.job_price)} per second",
        f"  job timeout    {chainctx.seconds(account.job_timeout)}",
        f"  expiration     {chainctx.seconds(account.job_expiration)} (done jobs may be cleaned after)",
        f"  job type       {account.job_type}",
        f"  nodes          {who}, minimum stake {units.nos(account.node_xnos_minimum)} (xNOS)",
        f"  authority      {account.authority}",
        f"  vault          {account.vault}",
        f"  queue          {queued(account)}",
    ]
    lines += [f"    {i + 1}. {key}" for i, key in enumerate(account.queue[:20])]
    if len(account.queue) > 20:
        lines.append(f"    ... and {len(account.queue) - 20} more (--json lists them all)")
    print("\n".join(lines))
