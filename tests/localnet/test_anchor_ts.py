"""The local market driven by the Anchor TypeScript client (@coral-xyz/anchor 0.29 from npm).

Anchor fetches the IDL from chain, decodes the default market, and sends list → work → finish
with ``.rpc()`` (confirmation over the WebSocket). The npm packages are installed by
``make test``, or here if missing; a failed install fails the test.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount
from tests.localnet.conftest import Served
from tests.localnet.node_project import node_project

HERE = Path(__file__).resolve().parent / "anchor_ts"


@pytest.fixture(scope="module")
def anchor_dir() -> Path:
    return node_project(HERE)


def test_anchor_client_fetches_the_idl_and_runs_a_job(
    served: Served, anchor_dir: Path, tmp_path: Path
) -> None:
    market, vault = served.market("default")
    wallets = {w.name: w for w in served.net.wallets}
    client, node = wallets["client-1"], wallets["node-1"]
    ipfs_job = hashlib.sha256(b"anchor job").hexdigest()
    ipfs_result = hashlib.sha256(b"anchor result").hexdigest()
    request = {
        "rpc_url": served.rpc_url,
        "ws_url": served.ws_url,
        "program_id": str(served.net.program_id),
        "market": str(market),
        "vault": str(vault),
        "client_keypair": client.keypair_path,
        "node_keypair": node.keypair_path,
        "client_nos": client.nos_account,
        "node_nos": node.nos_account,
        "node_stake": node.stake,
        "ipfs_job": ipfs_job,
        "ipfs_result": ipfs_result,
    }
    (tmp_path / "input.json").write_text(json.dumps(request))
    done = subprocess.run(
        ["node", "drive.js", str(tmp_path / "input.json")],
        cwd=anchor_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Anchor decoded the market as Python does
    assert out["market"]["authority"] == str(served.keypair("admin").pubkey())
    assert out["market"]["jobPrice"] == "0" and out["market"]["jobTimeout"] == "3600"
    assert out["market"]["vault"] == str(vault) and out["market"]["queue"] == []
    assert out["run"]["node"] == node.pubkey
    # the job is Done with the result, as Anchor reads it and as the chain holds it
    assert out["job"]["state"] == 2 and out["job"]["ipfsResult"] == ipfs_result
    assert out["job"]["node"] == node.pubkey
    account = served.net.chain.get_account(Pubkey.from_string(out["job"]["address"]))
    job = JobAccount.decode(bytes(account.data))
    assert job.state == 2 and job.ipfs_result.hex() == ipfs_result and str(job.node) == node.pubkey
    statuses = served.result("getSignatureStatuses", out["signatures"])["value"]
    assert all(s is not None and s["err"] is None for s in statuses)
