"""`nosana-node localnet`: run a local Nosana market: the jobs program in the Solana VM behind JSON-RPC.

``start`` serves a ledger directory (default ``<home>/localnet``) on the configured ports
(``:ports {:rpc 8899 :ws 8900}``); ``airdrop`` and ``market open`` talk to a running local market
over JSON-RPC and sign with the admin keypair kept in that ledger.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from nosana_node.localnet.limits import ServerLimits

app = typer.Typer(
    help="Run a local Nosana market: the jobs program in the Solana VM behind JSON-RPC.", no_args_is_help=True
)
market_app = typer.Typer(help="Markets of the local market.", no_args_is_help=True)
app.add_typer(market_app, name="market")

LEDGER_HELP = "Ledger directory. Default: <home>/localnet."


def _config() -> Any:
    from nosana_node import wiring

    return wiring.load_configuration().config


def _ledger_dir(ledger: Path | None) -> Path:
    return (ledger or _config().home / "localnet").expanduser()


def _default_url(url: str | None) -> str:
    return url or f"http://127.0.0.1:{_config().ports.rpc}"


def _admin(ledger: Path | None) -> Any:
    from nosana_node.chain.keyfile import read_keypair
    from nosana_node.errors import UserInputError

    path = _ledger_dir(ledger) / "keys" / "admin.json"
    if not path.exists():
        raise UserInputError(
            f"no local market ledger at {path.parent.parent} (no keys/admin.json): pass --ledger"
        )
    return read_keypair(path)


@app.command("start")
def start(
    ledger: Path | None = typer.Option(None, "--ledger", help=LEDGER_HELP),
    rpc_port: int | None = typer.Option(
        None, "--rpc-port", min=0, max=65535, help="JSON-RPC port. Default: 8899 (config ports.rpc)."
    ),
    ws_port: int | None = typer.Option(
        None, "--ws-port", min=0, max=65535, help="WebSocket port. Default: 8900 (config ports.ws)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    reset: bool = typer.Option(False, "--reset", help="Delete the ledger first and start from genesis."),
    program_id: str | None = typer.Option(
        None, "--program-id", help="Address of the jobs program. Default: the mainnet program id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON line."),
    max_connections: int = typer.Option(
        ServerLimits.max_connections,
        "--max-connections",
        min=1,
        max=100_000,
        help="HTTP and WebSocket connections open at once.",
    ),
    read_timeout: float = typer.Option(
        ServerLimits.read_timeout,
        "--read-timeout",
        min=0.1,
        max=3600,
        help="Seconds a client may take to send a request (headers or body) or stay idle.",
    ),
) -> None:
    """Serve the local market until Ctrl-C; its state persists in the ledger directory."""
    import asyncio

    from nosana_node.errors import UserInputError
    from nosana_node.localnet.encoding import pubkey_param
    from nosana_node.localnet.instance import Localnet

    config = _config()
    program = None
    if program_id is not None:
        try:
            program = pubkey_param(program_id)
        except Exception:
            raise UserInputError(f"--program-id: {program_id!r} is not a base58 public key") from None
    with Localnet.open(_ledger_dir(ledger), program_id=program, reset=reset) as net:
        rpc = config.ports.rpc if rpc_port is None else rpc_port
        ws = config.ports.ws if ws_port is None else ws_port
        limits = ServerLimits(max_connections=max_connections, read_timeout=read_timeout)
        asyncio.run(_serve(net, host, rpc, ws, as_json, limits))


async def _serve(net: Any, host: str, rpc_port: int, ws_port: int, as_json: bool, limits: Any) -> None:
    import asyncio
    import signal

    from nosana_node.localnet.server import LocalnetServer

    server = LocalnetServer(net.chain, host, rpc_port, ws_port, limits)
    await server.start()
    served = net.ledger.path / "endpoint.json"  # how clients with --network localnet find us
    try:
        served.write_text(
            json.dumps({"rpc_url": server.rpc_url, "ws_url": server.ws_url, "pid": os.getpid()}) + "\n"
        )
        summary = net.summary(server.rpc_url, server.ws_url)
        if as_json:
            sys.stdout.write(json.dumps(summary) + "\n")
        else:
            _print_summary(summary)
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        served.unlink(missing_ok=True)
        await server.stop()
    if not as_json:
        print("local market stopped; ledger saved", file=sys.stderr)


def _print_summary(summary: dict[str, Any]) -> None:
    """The summary as aligned plain lines (addresses are never cut, whatever the terminal width)."""
    admin = summary["market_admin"]
    lines = [
        f"Nosana local market serving {summary['rpc_url']} (websocket {summary['ws_url']})",
        f"  ledger        {summary['ledger']}",
        f"  jobs program  {summary['program_id']}",
        f"  NOS mint      {summary['nos_mint']}",
        f"  market admin  {admin['pubkey']}  {admin['keypair']}",
        "markets:",
    ]
    for m in summary["markets"]:
        name = m["name"] or "-"
        lines.append(
            f"  {name:<8} {m['address']:<44}  price {m['job_price']}/s  timeout {m['job_timeout']}s"
            f"  queue {m['queued']}"
        )
    lines.append("test wallets (SOL and NOS funded):")
    for w in summary["wallets"]:
        lines.append(f"  {w['name']:<8} {w['pubkey']:<44}  {w['keypair_path']}")
    lines.append("Ctrl-C to stop.")
    print("\n".join(lines))


def _wait_finalized(rpc: Any, signatures: list[str], timeout: float = 30.0) -> None:
    """Wait until the local market has committed ``signatures`` (finalized), as `solana airdrop`
    waits for its transfer; a ChainError after ``timeout`` seconds or if one failed."""
    import time

    from nosana_node.errors import ChainError

    deadline = time.monotonic() + timeout
    while True:
        statuses = rpc.call("getSignatureStatuses", signatures)["value"]
        failed = [s["err"] for s in statuses if s and s["err"] is not None]
        if failed:
            raise ChainError(f"transaction failed on the local market: {failed[0]}")
        if all(s and s["confirmationStatus"] == "finalized" for s in statuses):
            return
        if time.monotonic() > deadline:
            raise ChainError(f"the local market did not finalize {signatures[0]} within {timeout:g}s")
        time.sleep(0.05)


@app.command("airdrop")
def airdrop(
    address: str = typer.Argument(..., help="Wallet address (base58)."),
    sol: float | None = typer.Option(
        None, "--sol", min=0, help="SOL to send. Default: 10 (when --nos is not given)."
    ),
    nos: float | None = typer.Option(
        None, "--nos", min=0, help="NOS to mint. Default: 1000 (when --sol is not given)."
    ),
    url: str | None = typer.Option(
        None, "--url", help="JSON-RPC URL. Default: http://127.0.0.1:<:ports :rpc>."
    ),
    ledger: Path | None = typer.Option(None, "--ledger", help=LEDGER_HELP + " (its admin mints NOS)"),
) -> None:
    """Fund a wallet on the running local market with SOL (faucet) and NOS (minted)."""
    from spl.token.instructions import MintToParams, create_idempotent_associated_token_account, mint_to

    from nosana_node.chain import pda
    from nosana_node.chain.addresses import MAINNET, TOKEN_PROGRAM
    from nosana_node.chain.provider import Provider
    from nosana_node.chain.rpc import RpcClient
    from nosana_node.errors import UserInputError
    from nosana_node.localnet.encoding import pubkey_param

    try:
        owner = pubkey_param(address)
    except Exception:
        raise UserInputError(f"{address!r} is not a base58 address") from None
    if sol is None and nos is None:
        sol, nos = 10.0, 1000.0
    with RpcClient(_default_url(url)) as rpc:
        if sol:
            signature = rpc.call("requestAirdrop", str(owner), round(sol * 10**9))
            _wait_finalized(rpc, [signature])
            print(f"{sol:g} SOL -> {owner}  ({signature})")
        if nos:
            admin = _admin(ledger)
            mint = MAINNET.nos_mint
            ata = pda.associated_token(owner, mint)
            ixs = [
                create_idempotent_associated_token_account(admin.pubkey(), owner, mint),
                mint_to(MintToParams(TOKEN_PROGRAM, mint, ata, admin.pubkey(), round(nos * 10**6))),
            ]
            signature = Provider(rpc, admin).send(ixs, action="mint NOS")
            _wait_finalized(rpc, [signature])
            print(f"{nos:g} NOS -> {owner} (token account {ata})  ({signature})")


@market_app.command("open")
def market_open(
    price: int = typer.Option(0, "--price", min=0, help="Job price in NOS base units (1e-6 NOS) per second."),
    timeout: int = typer.Option(3600, "--timeout", min=1, help="Job timeout in seconds."),
    expiration: int = typer.Option(86400, "--expiration", min=1, help="Seconds a queued job waits."),
    job_type: int = typer.Option(0, "--job-type", min=0, max=255, help="Job type (0 default ... 4 gpu)."),
    min_stake: int = typer.Option(0, "--min-stake", min=0, help="Minimum node stake (xNOS base units)."),
    access_key: str | None = typer.Option(
        None, "--access-key", help="NFT collection whose holders may work here. Default: open to all."
    ),
    url: str | None = typer.Option(
        None, "--url", help="JSON-RPC URL. Default: http://127.0.0.1:<:ports :rpc>."
    ),
    ledger: Path | None = typer.Option(None, "--ledger", help=LEDGER_HELP + " (its admin opens the market)"),
    as_json: bool = typer.Option(False, "--json", help="Print the new market as JSON."),
) -> None:
    """Open a market on the running local market (signed by its admin)."""
    from solders.keypair import Keypair

    from nosana_node.chain.addresses import MAINNET, OPEN_ACCESS_KEY
    from nosana_node.chain.provider import Provider
    from nosana_node.chain.rpc import RpcClient
    from nosana_node.chain.transactions import open_market
    from nosana_node.errors import UserInputError
    from nosana_node.localnet.encoding import pubkey_param

    try:
        key = pubkey_param(access_key) if access_key else OPEN_ACCESS_KEY
    except Exception:
        raise UserInputError(f"--access-key: {access_key!r} is not a base58 address") from None
    admin = _admin(ledger)
    market = Keypair()
    genesis = _genesis_info(ledger)
    program_id = pubkey_param(genesis["program_id"]) if genesis else MAINNET.jobs_program
    ix, vault = open_market(
        MAINNET,
        admin.pubkey(),
        market.pubkey(),
        job_price=price,
        job_timeout=timeout,
        job_expiration=expiration,
        job_type=job_type,
        node_xnos_minimum=min_stake,
        access_key=key,
        program_id=program_id,
    )
    with RpcClient(_default_url(url)) as rpc:
        signature = Provider(rpc, admin).send([ix], [market], action="open market")
        _wait_finalized(rpc, [signature])
    result = {"market": str(market.pubkey()), "vault": str(vault), "signature": signature}
    if as_json:
        print(json.dumps(result))
    else:
        print(
            f"market {result['market']} opened (vault {result['vault']}, price {price}/s, timeout {timeout}s)"
        )


def _genesis_info(ledger: Path | None) -> dict[str, Any] | None:
    path = _ledger_dir(ledger) / "genesis.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
