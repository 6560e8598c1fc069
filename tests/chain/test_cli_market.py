"""`nosana-node market` and `job stop/extend` in real processes against a local market process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.chain.accounts import JobState
from tests.chain.clikit import LocalMarket, serve
from tests.chain.conftest import digest
from tests.cli import run_cli


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMarket]:
    yield from serve(tmp_path_factory.mktemp("home"))


def test_market_list_and_get_by_name_and_address(market: LocalMarket) -> None:
    listed = market.json("market", "list")
    names = {m["name"]: m for m in listed}
    assert set(names) == {"default", "priced"} and names["priced"]["job_price"] > 0
    text = market.cli("market", "list")
    assert text.returncode == 0 and "default" in text.stdout and names["priced"]["address"] in text.stdout
    by_name = market.json("market", "get", "priced")
    assert by_name == market.json("market", "get", names["priced"]["address"])
    assert by_name["queue_type"] == "empty" and by_name["node_access_key"] is None
    shown = market.cli("market", "get", "default")
    assert "open to all" in shown.stdout and "queue          empty" in shown.stdout


def test_unknown_market_and_bad_addresses_are_one_line_exit_2(market: LocalMarket) -> None:
    unknown = market.cli("market", "get", "gpu-farm")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "error: unknown market 'gpu-farm': give a base58 address or one of the names (default, priced; "
        "add more under :markets)"
    )
    bad = market.cli("job", "stop", "not-an-address")
    assert (
        bad.returncode == 2 and bad.stderr.strip() == "error: job: 'not-an-address' is not a base58 address"
    )
    missing = market.cli("job", "stop", "11111111111111111111111111111112")
    assert missing.returncode == 2 and "not found on localnet" in missing.stderr


def test_stop_delists_a_queued_job_and_ends_a_running_one(market: LocalMarket) -> None:
    endpoint = market.endpoint
    with market.client("client-1") as client, market.client("node-1") as node:
        priced = endpoint.market("priced")
        before = client.nos_balance()
        queued = client.list_job(priced, digest("queued"), 300)
        stopped = market.json("job", "stop", str(queued.job))
        assert stopped["action"] == "delisted" and client.job(queued.job) is None
        assert client.nos_balance() == before

        running = client.list_job(priced, digest("running"), 300)
        assert node.work(priced).job == running.job
        ended = market.json("job", "stop", str(running.job))
        assert ended["action"] == "ended" and client.job(running.job).state == JobState.DONE
        again = market.cli("job", "stop", str(running.job))
        assert again.returncode == 2 and again.stderr.strip() == (
            f"error: job {running.job} is COMPLETED: there is nothing to stop"
        )


def test_extend_adds_time_and_only_the_poster_may_steer_a_job(market: LocalMarket) -> None:
    endpoint = market.endpoint
    with market.client("client-2") as other:
        posted = other.list_job(endpoint.market("default"), digest("theirs"), 300)
        refused = market.cli("job", "extend", str(posted.job), "--timeout", "10m")
        assert refused.returncode == 2 and f"was posted by {other.wallet}" in refused.stderr
    with market.client("client-1") as client:
        mine = client.list_job(endpoint.market("default"), digest("mine"), 300)
        extended = market.json("job", "extend", str(mine.job), "--timeout", "10m")
        assert extended["timeout"] == 900 and client.job(mine.job).timeout == 900
        bad = market.cli("job", "extend", str(mine.job), "--timeout", "soon")
        assert bad.returncode == 2 and bad.stderr.startswith("error: --timeout 'soon': expected a duration")
        client.delist(mine.job)


def test_an_endpoint_that_does_not_answer_is_one_line_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli(
        "--set", "chain.retry-for=0", "market", "list", "--network", "devnet", "--rpc-url", f"http://127.0.0.1:{port}",
        env={"NOSANA_HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: no Solana JSON-RPC endpoint answers at http://127.0.0.1:{port} ("
    )
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
