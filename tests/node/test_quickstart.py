"""The README's first recipe in real processes on one home: ``localnet start``, ``node start
--network localnet --market default`` (the local market's RPC, market names and ``node-1``
wallet found under the home, nothing configured), ``job post --network localnet --wait`` as
``client-1``, then ``job result``, ``job list`` and ``node status``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.chain.clikit import LocalMarket
from tests.cli import REPO
from tests.corekit import STORE_IDS, leftover_containers, no_traceback, store_id
from tests.localnet.test_cli import localnet
from tests.node.nodekit import NodeProcess

HELLO = REPO / "pipelines" / "hello.yml"


def test_the_readme_recipe_on_one_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with localnet(home / "localnet") as (_, summary):
        market = LocalMarket(home, summary)
        default = next(m["address"] for m in summary["markets"] if m["name"] == "default")
        node_1 = str(market.endpoint.local_keypair("node-1").pubkey())
        node = NodeProcess(
            home, None, None, rpc_url=None, ws_url=None, args=("--network", "localnet", "--market", "default")
        )
        try:
            node.wait_line(r"waiting in the queue of market")
            assert f"nosana-node {node_1} on localnet ({summary['rpc_url']})" in node.output
            assert f"market {default} (default)" in node.output

            posted = market.cli("job", "post", str(HELLO), "--market", "default", "--wait", timeout=180)
            assert posted.returncode == 0, posted.stderr
            job = re.search(r"job (\w+) COMPLETED; result (Qm\w+)", posted.stdout)
            assert job is not None, posted.stdout
            assert "Hello from Nosana" in posted.stdout and f"RUNNING on node {node_1}" in posted.stderr

            shown = market.json("job", "result", job.group(1))
            result = shown["result"]
            assert shown["result_cid"] == job.group(2) and shown["job"] == job.group(1)
            assert result["status"] == "succeeded" and result["node"] == node_1
            assert result["jobs"][0]["name"] == "hello" and result["jobs"][0]["exit_code"] == 0
            listed = market.json("job", "list", "--mine", "--market", "default", "--state", "completed")
            assert [j["address"] for j in listed] == [job.group(1)]
            node.wait_line(rf"job {job.group(1)} finished")
            status = market.cli("node", "status", "--market", "default")
            assert status.returncode == 0, status.stderr
        finally:
            code = node.stop()
        assert code == 0 and no_traceback(node.output)
        sid = store_id(home)
        if sid is not None:
            STORE_IDS.append(sid)
            assert not leftover_containers(home)
    shown = status.stdout
    assert "running (pid" in shown and "1 finished" in shown and f"node {node_1} on localnet" in shown
