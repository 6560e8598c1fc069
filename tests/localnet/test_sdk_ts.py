"""The local market driven by the official Nosana TypeScript SDK (@nosana/sdk 0.4.69 from npm).

The SDK fetches the IDLs of the jobs, staking, rewards, pools and nodes programs from chain, and
uses what lies beyond the jobs program (stake and node reads, parsed transactions, NOS and SOL
transfers); then every other jobs call of the SDK on a market its admin opens with the SDK
(market admin calls, extend, delist, stop, quit, end, complete, the job and run queries,
cleanAdmin) and ``onProgramAccountChange``. Its Connection finds the WebSocket at the RPC port
+ 1, as web3.js does, so the market runs there. The npm packages are installed by ``make test``
(or here); a failed install fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
from pathlib import Path

import based58
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount
from nosana_node.chain.addresses import MAINNET
from nosana_node.localnet.idls import POOLS_PROGRAM
from tests.localnet.node_project import node_project
from tests.localnet.process import market_process

HERE = Path(__file__).resolve().parent / "sdk_ts"


def _port_pair() -> int:
    """A free port whose successor is free too (web3.js puts the WebSocket at port + 1)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two consecutive free ports")


def _cid(digest: bytes) -> str:
    return based58.b58encode(b"\x12\x20" + digest).decode()


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    return node_project(HERE)


def test_packages_that_cannot_be_installed_fail_the_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean checkout whose registry cannot be reached: the real install script runs, npm
    fails, and the test fails with npm's reason (it is never skipped)."""
    project = tmp_path / "sdk_ts"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, project / name)
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{closed.getsockname()[1]}/")
        monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
        monkeypatch.setenv("npm_config_fetch_retries", "0")
        with pytest.raises(BaseException) as failed:  # a skip would be caught here too
            node_project(project)
    assert failed.type is pytest.fail.Exception, failed.type
    assert "cannot install the npm packages of sdk_ts" in str(failed.value)
    assert "ECONNREFUSED" in str(failed.value) and not (project / "node_modules" / ".lock-sha256").exists()


def test_the_official_sdk_runs_a_job_and_reads_stakes_nodes_and_parsed_transactions(
    sdk_dir: Path, tmp_path: Path
) -> None:
    port = _port_pair()
    with market_process(tmp_path / "ledger", "--rpc-port", str(port), "--ws-port", str(port + 1)) as market:
        wallets = {w["name"]: w for w in market.summary["wallets"]}
        default = market.summary["markets"][0]
        job_digest, result_digest = (
            hashlib.sha256(b"sdk job").digest(),
            hashlib.sha256(b"sdk result").digest(),
        )
        recipient = Keypair().pubkey()
        request = {
            "rpc_url": market.rpc_url,
            "program_id": market.summary["program_id"],
            "nos_mint": market.summary["nos_mint"],
            "market": default["address"],
            "staking_program": str(MAINNET.staking_program),
            "rewards_program": str(MAINNET.rewards_program),
            "nodes_program": str(MAINNET.nodes_program),
            "pools_program": str(POOLS_PROGRAM),
            "pool": str(Keypair().pubkey()),
            "client_keypair": wallets["client-1"]["keypair_path"],
            "node_keypair": wallets["node-1"]["keypair_path"],
            "other_node_keypair": wallets["node-2"]["keypair_path"],
            "admin_keypair": market.summary["market_admin"]["keypair"],
            "ipfs_cid": _cid(job_digest),
            "result_bytes": list(result_digest),
            "recipient": str(recipient),
        }
        (tmp_path / "input.json").write_text(json.dumps(request))
        done = subprocess.run(
            ["node", "drive.mjs", str(tmp_path / "input.json")],
            cwd=sdk_dir, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        # the jobs program, through the IDL the SDK read from chain
        assert out["market"]["vault"] == default["vault"] and out["market"]["jobPrice"] == "0"
        confirmed = {"encoding": "base64", "commitment": "confirmed"}
        job_account = market.result("getAccountInfo", out["listed"]["job"], confirmed)["value"]
        job = JobAccount.decode(base64.b64decode(job_account["data"][0]))
        assert (
            job.state == 2
            and job.ipfs_result == result_digest
            and str(job.node) == wallets["node-1"]["pubkey"]
        )
        assert out["job"]["state"] == "COMPLETED" and out["job"]["ipfsResult"] == _cid(result_digest)
        # a finish by another node: refused, and named by the SDK from the program's log
        assert out["refused"]["code"] == "Unauthorized" and out["refused"]["number"] == 6100
        # beyond the jobs program
        staked = 10_000 * 10**6
        assert out["stake"] == {
            "amount": str(staked),
            "xnos": str(4 * staked),
            "duration": str(365 * 86_400),
            "vault": str(
                Pubkey.find_program_address(
                    [
                        b"vault",
                        bytes(MAINNET.nos_mint),
                        bytes(Pubkey.from_string(wallets["node-1"]["pubkey"])),
                    ],
                    MAINNET.staking_program,
                )[0]
            ),
            "authority": wallets["node-1"]["pubkey"],
        }
        assert out["stakeVault"] == 10_000  # the vault PDA holds what was staked
        assert out["stakes"] == 2 and out["nodes"] == 0
        parsed = out["parsed"]
        keys = parsed["transaction"]["message"]["accountKeys"]
        assert {"pubkey", "signer", "writable", "source"} <= set(keys[0])
        assert parsed["meta"]["err"] is None and parsed["transaction"]["signatures"][0] == out["listed"]["tx"]
        assert out["recipientBalance"]["amount"] == "5000000" and out["recipientBalance"]["decimals"] == 6
        assert out["solBefore"] == 0 and out["solAfter"] == 2_000_000
        statuses = market.result(
            "getSignatureStatuses", [out["listed"]["tx"], out["worked"], out["finished"], out["solSent"]]
        )
        assert all(s is not None and s["err"] is None for s in statuses["value"])
        _the_rest_of_the_jobs_program(market.summary, out["life"])


def _the_rest_of_the_jobs_program(summary: dict, life: dict) -> None:
    """What drive.mjs's lifecycle() saw on the market the admin opened with the SDK."""
    jobs = life["jobs"]
    # createMarket at price 5, updateMarket to 10 (the SDK's update always sets a 7200 s timeout)
    admin = summary["market_admin"]["pubkey"]
    assert life["market"] == {"price": "10", "timeout": "7200", "authority": admin}
    assert set(life["markets"]) == {m["address"] for m in summary["markets"]} | {jobs["market"]}
    # list deposits price x timeout, extend the difference (the SDK adds 90 s to 60 s); delist
    # refunds all of it and closes the job
    assert life["extended"] == "150"
    assert life["deposits"] == {"list": "600", "extend": "900", "refunded": "0"}
    assert life["delistedGone"] is True
    assert (life["queuedNodes"], life["queueAfterStop"]) == (1, 0)  # stop: the node left the queue
    # the waiting node got the priced job at once; its run is the only active one; it quit
    assert life["assignedRun"] is True and life["run"] is True and len(life["activeRuns"]) == 1
    assert life["quitState"] == "STOPPED"
    # end by the poster: done; complete by its node: the result is set
    result = _cid(hashlib.sha256(b"sdk result").digest())
    assert life["endedState"] == "COMPLETED" and life["completed"] == result
    assert sorted(life["all"]) == sorted([[jobs["ended"], 2], [jobs["quit"], 3]])
    assert life["full"] == 2 and life["multiple"] == ["STOPPED", "COMPLETED"]
    assert life["cleanedGone"] is True  # cleanAdmin by the market admin closed the job
    assert life["heard"] == [True, True, True]  # onProgramAccountChange saw every job listed
