"""Payment arithmetic at price > 0: deposit on list/extend, payment and refund on finish/end."""

from __future__ import annotations

import pytest

from nosana_node.localnet.genesis import MarketSettings

from .conftest import Local

PRICE = 1_000  # genesis' priced market: NOS base units per second


@pytest.mark.parametrize(("timeout", "used"), [(600, 250), (600, 600), (600, 5_000), (600, 0)])
def test_finish_pays_price_times_min_of_used_and_timeout(local: Local, timeout: int, used: int) -> None:
    client, node = local.clients[0], local.nodes[0]
    c0, n0 = local.nos(client.nos_account), local.nos(node.nos_account)
    job, run = local.running_job(local.priced, client, node, timeout=timeout)
    assert local.nos(local.priced.vault) == PRICE * timeout
    local.warp(used)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    paid = PRICE * min(used, timeout)
    assert local.nos(node.nos_account) == n0 + paid
    assert local.nos(client.nos_account) == c0 - paid  # deposit minus refund
    assert local.nos(local.priced.vault) == 0


def test_extend_then_end_settles_on_the_new_timeout(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    c0, n0 = local.nos(client.nos_account), local.nos(node.nos_account)
    job, run = local.running_job(local.priced, client, node, timeout=600)
    local.send(local.tx_extend(job, client, 900)).expect_ok()
    assert local.nos(local.priced.vault) == PRICE * 900
    local.warp(700)
    local.send(local.tx_end(job, run, client, node)).expect_ok()
    assert local.nos(node.nos_account) == n0 + PRICE * 700
    assert local.nos(client.nos_account) == c0 - PRICE * 700
    assert local.nos(local.priced.vault) == 0


def test_vault_keeps_other_jobs_deposits(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    market = local.open(MarketSettings(job_price=7, job_timeout=100))
    job, run = local.running_job(market, client, node, timeout=100)
    local.list_job(market, local.clients[1], timeout=50)  # waits, 350 deposited
    local.warp(10)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    assert local.nos(market.vault) == 7 * 50


def test_a_clock_that_went_backwards_pays_nothing(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    n0 = local.nos(node.nos_account)
    job, run = local.running_job(local.priced, client, node, timeout=60)
    local.warp(-30)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    assert local.nos(node.nos_account) == n0
