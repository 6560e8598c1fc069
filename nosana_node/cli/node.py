"""`nosana-node node`: run a node (join a market, take its jobs, run them, get paid) and look at it.

``start`` reads ``:network``, ``:rpc-url``, ``:keypair`` and ``:market`` (``--network``,
``--rpc-url``, ``--market``, ``--home`` override them; on localnet without a keypair the local
market's ``node-1`` wallet serves), runs the start-up checks (exit 2 when one fails, before
anything is joined), then serves until SIGTERM/SIGINT (see :mod:`nosana_node.node.loop`).
``status`` reads the node's home and the chain, whether or not the node runs. With ``--json``,
``start`` writes one JSON object per line on stdout for each start-up check and node event
(:mod:`nosana_node.node.events`; masked like the log) and its own lines go to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from nosana_node.cli import chainctx, options
from nosana_node.cli.chainctx import JSON, NETWORK, RPC_URL

app = typer.Typer(help="Run a node: join a market, take its jobs, run them, get paid.", no_args_is_help=True)

MARKET = chainctx.setting("--market", "market", "NAME|ADDRESS")


def _load(network: str | None, rpc_url: str | None, home: Path | None) -> Any:
    from nosana_node.config.load import Flag
    from nosana_node.wiring import load_configuration

    flags: dict[str, Flag] = {}
    if network is not None:
        flags["network"] = Flag(network, "--network")
    if rpc_url is not None:
        flags["rpc-url"] = Flag(rpc_url, "--rpc-url")
    if home is not None:
        flags["home"] = Flag(str(home), "--home")
    return load_configuration(flags=flags)


def _printer(as_json: bool) -> Callable[[str], None]:
    """Where ``start`` prints its own lines: stdout, or stderr when stdout carries JSON."""
    stream = sys.stderr if as_json else sys.stdout

    def out(text: str) -> None:
        print(text, file=stream, flush=True)

    return out


def _json_lines() -> Callable[[Any], None]:
    """A subscriber writing each node event as one masked JSON line on stdout (lines from the
    loop and the job's threads never interleave)."""
    from nosana_node.secrets.masking import process_masker

    lock = threading.Lock()

    def emit(event: Any) -> None:
        line = json.dumps(process_masker().mask_obj(event.to_json()), default=str)
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    return emit


@app.command("start")
def start(
    market: str | None = MARKET,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    home: Path | None = options.HOME,
    as_json: bool = options.flag(
        "--json", help="One JSON object a line on stdout per check and node event (the rest on stderr)."
    ),
) -> None:
    """Check, join the market and serve its jobs until SIGTERM/SIGINT (a second one: at once)."""
    from nosana_node.api.wiring import node_bus, serve_node_api
    from nosana_node.node.checks import require, run_checks
    from nosana_node.node.events import NodeEvent, log_events
    from nosana_node.node.loop import Node
    from nosana_node.node.parts import build_parts
    from nosana_node.node.state import HomeLock

    out = _printer(as_json)
    loaded = _load(network, rpc_url, home)
    parts = build_parts(loaded, market)
    if as_json:
        parts.events.subscribe(_json_lines())
    lock = HomeLock(Path(loaded.config.home))
    api = None
    try:
        lock.acquire(str(parts.wallet), str(parts.market))
        endpoint = parts.chain.endpoint
        name = endpoint.market_name(parts.market)
        out(f"nosana-node {parts.wallet} on {endpoint.network} ({endpoint.rpc_url})")
        out(f"  market {parts.market}{f' ({name})' if name else ''}, home {loaded.config.home}")
        results = run_checks(parts)
        for result in results:
            out(result.line())
            parts.events.publish(NodeEvent("check", data=result.to_json()))
        require(results)
        node = Node(parts)
        bus = node_bus(parts)  # the runner's reporter: live lines, ops in the node's log
        api = serve_node_api(loaded, parts, bus)  # before the log: a logged event is known to the API
        parts.events.subscribe(log_events)
        if api is not None:
            token = Path(loaded.config.home) / "api-token"
            out(f"  API and status page {api.url}/ (operator token in {token})")
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: node.stop())
        out("serving; SIGTERM or Ctrl-C stops (the running job may finish first; twice: at once)")
        code = node.run()
        print("node stopped", file=sys.stderr, flush=True)
    finally:
        if api is not None:
            api.stop()
        lock.release()
        parts.close()
    raise typer.Exit(code)


@app.command("status")
def status(
    market: str | None = MARKET,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    home: Path | None = options.HOME,
    as_json: bool = JSON,
) -> None:
    """Queue position, balances, stake and the current job of the node (running or not)."""
    from nosana_node.node.status import describe, node_status

    loaded = _load(network, rpc_url, home)
    with chainctx.chain(loaded, role="node") as client:
        address = (
            client.endpoint.market(market or loaded.config.market)
            if (market or loaded.config.market)
            else None
        )
        doc = node_status(client, Path(loaded.config.home), address)
    if as_json:
        chainctx.emit(doc)
    else:
        print(describe(doc))
