"""quit_admin, clean, clean_admin, with the clock warped past expiry, in the real SVM."""

from __future__ import annotations

from nosana_node.chain.errors import CommonError, JobsError

from .conftest import Local, custom


def test_quit_admin_closes_a_run_for_its_payer(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    assert local.send(local.tx_quit_admin(run, node.keypair)).error == custom(CommonError.Unauthorized)
    assert local.send(local.tx_quit_admin(run, payer=client.pubkey)).error == custom(CommonError.InvalidPayer)
    rent, before = local.lamports(run), local.lamports(node.pubkey)
    local.send(local.tx_quit_admin(run)).expect_ok()
    assert not local.exists(run) and local.lamports(node.pubkey) == before + rent
    assert local.exists(job)


def test_clean_closes_a_done_job_after_the_market_expiration(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    expiration = local.market(local.default).job_expiration
    anyone = local.nodes[2].keypair
    local.warp(expiration)  # exactly job_expiration seconds: not yet
    assert local.send(local.tx_clean(job, anyone)).error == custom(JobsError.JobNotExpired)
    local.warp(1)
    rent, before = local.lamports(job), local.lamports(client.pubkey)
    local.send(local.tx_clean(job, anyone)).expect_ok()
    assert not local.exists(job) and local.lamports(client.pubkey) == before + rent


def test_clean_errors(local: Local) -> None:
    client, node, anyone = local.clients[0], local.nodes[0], local.nodes[2].keypair
    job, run = local.running_job(local.default, client, node)
    assert local.send(local.tx_clean(job, anyone)).error == custom(JobsError.JobInWrongState)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    local.warp(10**6)
    tx = local.tx_clean(job, anyone, market=local.priced.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    tx = local.tx_clean(job, anyone, payer=node.pubkey)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)


def test_clean_admin_closes_any_job(local: Local) -> None:
    client = local.clients[0]
    job = local.list_job(local.default, client).keys["job"].pubkey()
    assert local.send(local.tx_clean_admin(job, client.keypair)).error == custom(CommonError.Unauthorized)
    assert local.send(local.tx_clean_admin(job, payer=local.nodes[0].pubkey)).error == custom(
        CommonError.InvalidPayer
    )
    rent, before = local.lamports(job), local.lamports(client.pubkey)
    local.send(local.tx_clean_admin(job)).expect_ok()
    assert not local.exists(job) and local.lamports(client.pubkey) == before + rent
