"""``finish`` built from the IDL the chain publishes: 10 accounts, the SDK's 11, or the bundled IDL."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from nosana_node.chain.accounts import JobState
from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.idl import idl_json
from tests.chain.conftest import Served, digest, fresh_node, set_chain_idl


def _finish_accounts(served: Served, signature: str) -> list[str]:
    """Account keys of the landed transaction's last instruction (the finish)."""
    tx = served.result("getTransaction", signature, {"encoding": "json", "commitment": "confirmed"})
    message = tx["transaction"]["message"]
    keys = message["accountKeys"]
    return [keys[i] for i in message["instructions"][-1]["accounts"]]


def _run_job(endpoint: Endpoint, client: ChainClient, node: ChainClient, market: str = "default") -> str:
    posted = client.list_job(endpoint.market(market), digest("job"), 600)
    assert node.work(endpoint.market(market)).job == posted.job
    return str(posted.job)


@pytest.mark.parametrize("legacy", [False, True], ids=["10-accounts", "11-accounts"])
def test_finish_follows_the_chain_idl(
    served: Served, endpoint: Endpoint, connect: Callable[..., ChainClient], legacy: bool
) -> None:
    set_chain_idl(served, idl_json(endpoint.addresses.jobs_program, legacy_finish=legacy))
    client, node = connect("client-1"), connect("node-1")
    from solders.pubkey import Pubkey

    job = Pubkey.from_string(_run_job(endpoint, client, node, "priced"))
    payer = client.job(job).payer
    signature = node.finish(job, digest("result"))

    assert node.program.source == "chain"
    assert len(node.program.accounts_of("finish")) == (11 if legacy else 10)
    accounts = _finish_accounts(served, signature)
    done = client.job(job)
    assert done.state == JobState.DONE and done.ipfs_result == digest("result")
    if legacy:  # ..., user, payer_job, payer_run, project, authority, token_program
        assert len(accounts) == 11
        assert (
            accounts[6] == str(payer) and accounts[7] == str(node.wallet) and accounts[8] == str(done.project)
        )
    else:  # ..., user, payer_run, payer_job, authority, token_program
        assert len(accounts) == 10
        assert (
            accounts[6] == str(node.wallet) and accounts[7] == str(payer) and accounts[8] == str(node.wallet)
        )


def test_without_an_idl_on_chain_the_bundled_idl_is_used(
    served: Served, endpoint: Endpoint, connect: Callable[..., ChainClient], caplog: pytest.LogCaptureFixture
) -> None:
    set_chain_idl(served, None)
    client, node = connect("client-1"), connect("node-1")
    from solders.pubkey import Pubkey

    job = Pubkey.from_string(_run_job(endpoint, client, node))
    node.finish(job, digest("result"))
    assert node.program.source == "bundled" and client.job(job).state == JobState.DONE


def test_an_unreadable_idl_falls_back_to_the_bundled_one(
    served: Served, endpoint: Endpoint, connect: Callable[..., ChainClient], caplog: pytest.LogCaptureFixture
) -> None:
    set_chain_idl(served, b"\x18\x46\x3c\x0b\x5d\x3f\x47\x6e" + bytes(40) + b"not zlib")
    node = connect("node-1")
    with caplog.at_level(logging.WARNING, logger="nosana_node.chain"):
        assert node.program.source == "bundled"
    assert "unreadable" in caplog.text


def test_finish_creates_the_node_token_account_and_pays_into_it(
    served: Served, endpoint: Endpoint, connect: Callable[..., ChainClient]
) -> None:
    client = connect("client-1")
    node = connect(fresh_node(served, endpoint))
    assert node.nos_balance() is None  # no NOS account yet
    market = endpoint.market("priced")
    price = client.market(market).job_price
    posted = client.list_job(market, digest("job"), 600)
    # work on an open market passes the NOS account as "nft": created first when missing
    assert node.work(market).job == posted.job
    served.net.chain.warp(5)  # five seconds of work
    node.finish(posted.job, digest("result"))
    job = client.job(posted.job)
    paid = price * (job.time_end - job.time_start)
    assert job.time_end - job.time_start >= 5 and node.nos_balance() == paid > 0
