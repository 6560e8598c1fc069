"""list, assign, delist, recover, extend, end: jobs from the project's side, in the real SVM."""

from __future__ import annotations

import struct

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import (
    JOB_SIZE,
    MARKET_QUEUE_CAPACITY,
    JobAccount,
    JobState,
    JobType,
    QueueType,
)
from nosana_node.chain.errors import CommonError, JobsError
from nosana_node.localnet.genesis import MarketSettings

from .conftest import JOB_DIGEST, Local, builtin, custom

# ---- list ----------------------------------------------------------------------------------------


def test_list_on_an_empty_market_queues_the_job(local: Local) -> None:
    client = local.clients[0]
    tx = local.list_job(local.default, client, timeout=600)
    job = tx.keys["job"].pubkey()
    account = local.svm.get_account(job)
    assert account.owner == local.program_id and len(account.data) == JOB_SIZE == 240
    data = bytes(account.data)
    assert data[:8] == JobAccount.DISCRIMINATOR and data[8:40] == JOB_DIGEST and data[40:72] == bytes(32)
    assert data[72:104] == bytes(local.default.address) and data[104:136] == bytes(32)
    assert data[136:168] == bytes(client.pubkey) and struct.unpack_from("<Q", data, 168)[0] == 0
    assert data[176:208] == bytes(client.pubkey) and data[208] == JobState.QUEUED
    assert struct.unpack_from("<qqq", data, 209) == (0, 0, 600)
    market = local.market(local.default)
    assert market.queue_type == QueueType.JOB and market.queue == [job]
    assert not local.exists(tx.keys["run"].pubkey())  # no node waited: no run


def test_list_gives_the_job_to_the_oldest_waiting_node(local: Local) -> None:
    first, second = local.nodes[0], local.nodes[1]
    local.work(local.default, first)
    local.work(local.default, second)
    local.warp(30)
    tx = local.list_job(local.default, local.clients[0])
    run = local.run(tx.keys["run"].pubkey())
    assert run.job == tx.keys["job"].pubkey() and run.node == first.pubkey
    assert run.payer == local.clients[0].pubkey and run.time == local.now()
    market = local.market(local.default)
    assert market.queue == [second.pubkey] and market.queue_type == QueueType.NODE
    job = local.job(tx.keys["job"].pubkey())
    assert job.state == JobState.QUEUED and job.node == Pubkey.default()  # running: queued + a run


def test_list_deposits_price_times_timeout(local: Local) -> None:
    client = local.clients[0]
    before = local.nos(client.nos_account)
    tx = local.list_job(local.priced, client, timeout=600)
    assert local.nos(client.nos_account) == before - 600 * 1_000
    assert local.nos(local.priced.vault) == 600 * 1_000
    assert local.job(tx.keys["job"].pubkey()).price == 1_000


def test_list_at_price_zero_moves_nothing_and_skips_token_accounts(local: Local) -> None:
    client = local.clients[0]
    before = local.nos(client.nos_account)
    tx = local.tx_list(local.default, client, user=Pubkey.new_unique(), vault=Pubkey.new_unique())
    local.send(tx).expect_ok()
    assert local.nos(client.nos_account) == before


def test_list_errors(local: Local) -> None:
    client = local.clients[0]
    # the run account must be fresh: system-owned with no lamports
    tx = local.tx_list(local.default, client)
    local.svm.airdrop(tx.keys["run"].pubkey(), 1_000_000)
    assert local.send(tx).error == builtin("AccountAlreadyInitialized")
    # the job account must be new
    done = local.list_job(local.default, client)
    tx = local.tx_list(local.default, client, job=done.keys["job"].pubkey())
    tx.signers.append(done.keys["job"])
    assert local.send(tx).error == builtin("AccountAlreadyInitialized")
    # the market must be a market of this program
    tx = local.tx_list(local.default, client, market=client.nos_account)
    assert local.send(tx).error == builtin("InvalidAccountOwner")
    tx = local.tx_list(local.default, client, token_program=Pubkey.new_unique())
    assert local.send(tx).error == builtin("IncorrectProgramId")


def test_list_priced_errors(local: Local) -> None:
    client, other = local.clients[0], local.clients[1]
    tx = local.tx_list(local.priced, client, vault=local.default.vault)
    assert local.send(tx).error == custom(CommonError.InvalidVault)  # not the market's vault
    tx = local.tx_list(local.priced, client, user=other.nos_account)
    assert local.send(tx).error == custom(CommonError.Unauthorized)  # no signer owns that token account
    poor = local.token_account(client.pubkey, 10)
    assert local.send(local.tx_list(local.priced, client, user=poor)).error == builtin("InsufficientFunds")
    assert local.send(local.tx_list(local.priced, client, timeout=-5)).error == builtin("InvalidArgument")
    assert local.send(local.tx_list(local.priced, client, timeout=1 << 60)).error == builtin(
        "ArithmeticOverflow"
    )
    wrong_mint = local.token_account(client.pubkey, 10**12, mint=Pubkey.new_unique())
    assert local.send(local.tx_list(local.priced, client, user=wrong_mint)).error == custom(
        CommonError.InvalidATA
    )


def test_list_with_the_payer_owning_the_token_account(local: Local) -> None:
    """The deposit may come from the payer's token account when the payer is not the project."""
    project, payer = local.clients[0], local.clients[1]
    before = local.nos(payer.nos_account)
    tx = local.tx_list(local.priced, project, payer=payer.pubkey, user=payer.nos_account, timeout=10)
    tx.signers.append(payer.keypair)
    local.send(tx).expect_ok()
    assert local.nos(payer.nos_account) == before - 10_000
    job = local.job(tx.keys["job"].pubkey())
    assert job.payer == payer.pubkey and job.project == project.pubkey


def test_list_on_a_full_queue_fails(local: Local) -> None:
    market = local.market(local.default)
    market.queue_type = QueueType.JOB
    market.queue = [Pubkey.new_unique() for _ in range(MARKET_QUEUE_CAPACITY)]
    account = local.svm.get_account(local.default.address)
    local.svm.set_account(
        local.default.address,
        type(account)(
            account.lamports, market.encode(), account.owner, account.executable, account.rent_epoch
        ),
    )
    assert local.send(local.tx_list(local.default, local.clients[0])).error == builtin("AccountDataTooSmall")


def test_a_market_of_unknown_job_type_never_queues(local: Local) -> None:
    market = local.open(MarketSettings(job_price=0, job_type=JobType.UNKNOWN))
    tx = local.list_job(market, local.clients[0])
    assert local.exists(tx.keys["job"].pubkey())
    local.work(market, local.nodes[0])
    m = local.market(market)
    assert m.queue == [] and m.queue_type == QueueType.EMPTY


# ---- assign --------------------------------------------------------------------------------------


def test_assign_gives_the_job_to_a_chosen_waiting_node(local: Local) -> None:
    first, second = local.nodes[0], local.nodes[1]
    local.work(local.priced, first)
    local.work(local.priced, second)
    client = local.clients[0]
    before = local.nos(client.nos_account)
    tx = local.tx_assign(local.priced, client, second.pubkey, timeout=60)
    local.send(tx).expect_ok()
    run = local.run(tx.keys["run"].pubkey())
    assert run.node == second.pubkey and run.job == tx.keys["job"].pubkey() and run.time == local.now()
    assert local.market(local.priced).queue == [first.pubkey]
    assert local.nos(client.nos_account) == before - 60_000
    job = local.job(tx.keys["job"].pubkey())
    assert job.project == client.pubkey and job.price == 1_000 and job.timeout == 60


def test_assign_errors(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    tx = local.tx_assign(local.default, client, node.pubkey)
    assert local.send(tx).error == custom(JobsError.MarketInWrongState)  # nobody waits
    local.work(local.default, node)
    tx = local.tx_assign(local.default, client, local.nodes[1].pubkey)
    assert local.send(tx).error == custom(JobsError.NotInMarketQueue)


# ---- delist --------------------------------------------------------------------------------------


def test_delist_refunds_and_closes_a_queued_job(local: Local) -> None:
    client = local.clients[0]
    before_nos, before_sol = local.nos(client.nos_account), local.lamports(client.pubkey)
    job = local.list_job(local.priced, client, timeout=300).keys["job"].pubkey()
    local.send(local.tx_delist(job, client)).expect_ok()
    assert local.nos(client.nos_account) == before_nos and local.nos(local.priced.vault) == 0
    assert not local.exists(job)
    fees = 3 * 5_000 + 5_000  # list (client, job, run signatures) + delist
    assert local.lamports(client.pubkey) == before_sol - fees  # the job's rent came back
    m = local.market(local.priced)
    assert m.queue == [] and m.queue_type == QueueType.EMPTY


def test_delist_errors(local: Local) -> None:
    client, other, node = local.clients[0], local.clients[1], local.nodes[0]
    job = local.list_job(local.priced, client).keys["job"].pubkey()
    assert local.send(local.tx_delist(job, other)).error == custom(JobsError.JobInvalidProject)
    tx = local.tx_delist(job, client, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    tx = local.tx_delist(job, client, payer=other.pubkey)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)
    tx = local.tx_delist(job, client, deposit=other.nos_account)
    assert local.send(tx).error == custom(CommonError.InvalidATA)  # a refund only goes to the job's side
    tx = local.tx_delist(job, client, vault=local.default.vault)
    assert local.send(tx).error == custom(CommonError.InvalidVault)
    # running (taken by a node, the queue is empty again): not delistable
    local.work(local.priced, node)
    assert local.send(local.tx_delist(job, client)).error == custom(JobsError.MarketInWrongState)
    # running while other jobs wait: not in the queue
    local.list_job(local.priced, client)
    assert local.send(local.tx_delist(job, client)).error == custom(JobsError.NotInMarketQueue)


def test_delist_of_a_finished_job_is_refused(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    assert local.send(local.tx_delist(job, client)).error == custom(JobsError.JobInWrongState)


# ---- recover -------------------------------------------------------------------------------------


def test_recover_refunds_a_stopped_job(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    before = local.nos(client.nos_account)
    job, run = local.running_job(local.priced, client, node, timeout=200)
    local.send(local.tx_quit(job, run, node)).expect_ok()
    local.send(local.tx_recover(job, client)).expect_ok()
    assert local.nos(client.nos_account) == before and not local.exists(job)


def test_recover_errors(local: Local) -> None:
    client, other, node = local.clients[0], local.clients[1], local.nodes[0]
    job, run = local.running_job(local.priced, client, node)
    assert local.send(local.tx_recover(job, client)).error == custom(JobsError.JobInWrongState)
    local.send(local.tx_quit(job, run, node)).expect_ok()
    assert local.send(local.tx_recover(job, other)).error == custom(JobsError.JobInvalidProject)
    tx = local.tx_recover(job, client, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    assert local.send(local.tx_recover(job, client, payer=other.pubkey)).error == custom(
        CommonError.InvalidPayer
    )
    assert local.send(local.tx_recover(job, client, user=other.nos_account)).error == custom(
        CommonError.InvalidATA
    )


# ---- extend --------------------------------------------------------------------------------------


def test_extend_deposits_the_difference(local: Local) -> None:
    client = local.clients[0]
    job = local.list_job(local.priced, client, timeout=100).keys["job"].pubkey()
    before = local.nos(client.nos_account)
    local.send(local.tx_extend(job, client, 250)).expect_ok()
    assert local.job(job).timeout == 250
    assert local.nos(client.nos_account) == before - 150 * 1_000
    assert local.nos(local.priced.vault) == 250 * 1_000


def test_extend_works_on_a_running_job_at_price_zero(local: Local) -> None:
    job, _ = local.running_job(local.default, local.clients[0], local.nodes[0], timeout=10)
    local.send(local.tx_extend(job, local.clients[0], 20)).expect_ok()
    assert local.job(job).timeout == 20


def test_extend_errors(local: Local) -> None:
    client, other, node = local.clients[0], local.clients[1], local.nodes[0]
    job, run = local.running_job(local.priced, client, node, timeout=100)
    assert local.send(local.tx_extend(job, client, 100)).error == custom(JobsError.JobTimeoutNotGreater)
    assert local.send(local.tx_extend(job, other, 200)).error == custom(JobsError.JobInvalidProject)
    tx = local.tx_extend(job, client, 200, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    tx = local.tx_extend(job, client, 200, payer=other.pubkey, user=other.nos_account)
    tx.signers.append(other.keypair)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)  # priced: the job's payer pays
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    assert local.send(local.tx_extend(job, client, 200)).error == custom(JobsError.JobInWrongState)


# ---- end -----------------------------------------------------------------------------------------


def test_end_pays_the_node_for_the_time_used(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    client_before, node_before = local.nos(client.nos_account), local.nos(node.nos_account)
    job, run = local.running_job(local.priced, client, node, timeout=600)
    started = local.now()
    local.warp(42)
    node_sol = local.lamports(node.pubkey)
    run_rent = local.lamports(run)
    local.send(local.tx_end(job, run, client, node)).expect_ok()
    j = local.job(job)
    assert j.state == JobState.DONE and (j.time_start, j.time_end) == (started, started + 42)
    assert j.node == node.pubkey and j.ipfs_result == bytes(32)
    assert local.nos(node.nos_account) == node_before + 42 * 1_000
    assert local.nos(client.nos_account) == client_before - 42 * 1_000
    assert local.nos(local.priced.vault) == 0
    assert not local.exists(run) and local.lamports(node.pubkey) == node_sol + run_rent  # run rent to payer


def test_end_errors(local: Local) -> None:
    client, other, node = local.clients[0], local.clients[1], local.nodes[0]
    job, run = local.running_job(local.priced, client, node)
    other_job, other_run = local.running_job(local.priced, client, local.nodes[1])
    assert local.send(local.tx_end(job, run, other, node)).error == custom(JobsError.JobInvalidProject)
    tx = local.tx_end(job, run, client, node, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    tx = local.tx_end(job, other_run, client, node)
    assert local.send(tx).error == custom(JobsError.InvalidJobAccount)
    tx = local.tx_end(job, run, client, node, payer=other.pubkey)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)
    tx = local.tx_end(job, run, client, node, user=client.nos_account)
    assert local.send(tx).error == custom(CommonError.InvalidATA)  # the payment goes to the run's node
    tx = local.tx_end(job, run, client, node, deposit=other.nos_account)
    assert local.send(tx).error == custom(CommonError.InvalidATA)
    assert other_job != job
