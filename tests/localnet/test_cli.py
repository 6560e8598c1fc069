"""`nosana-node localnet` as an operator runs it: a real process serving real ports."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.cli import run_cli
from tests.localnet import spec_client as spec
from tests.localnet.conftest import HTTP, run, wait_finalized
from tests.localnet.process import market_process


@contextmanager
def localnet(ledger: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """``nosana-node localnet start --json`` on free ports; yields the process and its summary."""
    with market_process(ledger, *extra) as market:
        yield market.proc, market.summary


def rpc(url: str, method: str, *params: Any) -> Any:
    response = HTTP.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    ).json()
    assert "error" not in response, response
    return response["result"]


def test_start_serves_the_market_and_the_cli_funds_and_opens(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    with localnet(ledger) as (proc, summary):
        url = summary["rpc_url"]
        assert summary["program_id"] == str(spec.JOBS_PROGRAM)
        assert [m["name"] for m in summary["markets"]] == ["default", "priced"]
        assert {w["name"] for w in summary["wallets"]} == {"client-1", "client-2", "node-1", "node-2"}
        assert all(Path(w["keypair_path"]).exists() for w in summary["wallets"])
        default = Pubkey.from_string(summary["markets"][0]["address"])

        async def read() -> spec.Market:
            async with AsyncClient(url) as client:
                info = (await client.get_account_info(default, encoding="base64")).value
                return spec.decode_market(bytes(info.data))

        market = run(read())
        assert (
            market.authority == Pubkey.from_string(summary["market_admin"]["pubkey"])
            and market.job_price == 0
        )

        wallet = Keypair().pubkey()
        funded = run_cli(
            "localnet",
            "airdrop",
            str(wallet),
            "--sol",
            "2",
            "--nos",
            "5",
            "--url",
            url,
            "--ledger",
            str(ledger),
        )
        assert funded.returncode == 0, funded.stderr
        assert rpc(url, "getBalance", str(wallet))["value"] == 2 * 10**9
        assert rpc(url, "getTokenAccountBalance", str(spec.nos_account(wallet)))["value"]["uiAmount"] == 5.0

        opened = run_cli(
            "localnet",
            "market",
            "open",
            "--price",
            "7",
            "--timeout",
            "60",
            "--json",
            "--url",
            url,
            "--ledger",
            str(ledger),
        )
        assert opened.returncode == 0, opened.stderr
        new_market = json.loads(opened.stdout)["market"]
        data = rpc(url, "getAccountInfo", new_market, {"encoding": "base64"})["value"]["data"][0]
        fresh = spec.decode_market(base64.b64decode(data))
        assert (fresh.job_price, fresh.job_timeout) == (7, 60)

        # a second server on the same ledger, or on a taken port, is refused in one line
        again = run_cli("localnet", "start", "--ledger", str(ledger), "--rpc-port", "0", "--ws-port", "0")
        assert again.returncode == 2 and again.stderr.count("\n") == 1 and "in use by process" in again.stderr
        port = int(url.rsplit(":", 1)[1])
        taken = run_cli(
            "localnet",
            "start",
            "--ledger",
            str(tmp_path / "other"),
            "--rpc-port",
            str(port),
            "--ws-port",
            "0",
        )
        assert taken.returncode == 2 and "--rpc-port" in taken.stderr and "Traceback" not in taken.stderr
    assert proc.returncode == 0
    # stopped and started again: the market opened by the CLI is still there
    with localnet(ledger) as (_, summary):
        assert new_market in {m["address"] for m in summary["markets"]}


def test_the_ledger_keeps_what_landed_when_the_server_is_killed(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    wallet = Keypair().pubkey()
    with localnet(ledger) as (proc, summary):
        signature = rpc(summary["rpc_url"], "requestAirdrop", str(wallet), 4 * 10**9)
        run(wait_finalized(summary["ws_url"], signature))  # committed to the ledger
        proc.kill()
        proc.wait()
    with localnet(ledger) as (_, summary):
        assert rpc(summary["rpc_url"], "getBalance", str(wallet))["value"] == 4 * 10**9


def test_commands_without_a_market_fail_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody serves
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = run_cli("localnet", "airdrop", str(Keypair().pubkey()), "--sol", "1", "--url", url)
    assert result.returncode == 1 and "no Solana JSON-RPC endpoint answers" in result.stderr
    assert result.stderr.count("\n") == 1
    bad = run_cli("localnet", "airdrop", "not-an-address", "--url", url)
    assert bad.returncode == 2 and "not a base58 address" in bad.stderr
    no_ledger = run_cli("localnet", "market", "open", "--url", url, "--ledger", str(tmp_path / "none"))
    assert no_ledger.returncode == 2 and "no local market ledger" in no_ledger.stderr
