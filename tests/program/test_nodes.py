"""work, stop, claim, complete, finish, quit and node eligibility, in the real SVM."""

from __future__ import annotations

from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.accounts import RUN_SIZE, JobState, QueueType, RunAccount
from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.errors import CommonError, JobsError
from nosana_node.localnet import raw_accounts
from nosana_node.localnet.genesis import MarketSettings

from .conftest import RESULT_DIGEST, Local, builtin, custom

# ---- work ----------------------------------------------------------------------------------------


def test_work_queues_the_node_when_no_job_waits(local: Local) -> None:
    node = local.nodes[0]
    tx = local.work(local.default, node)
    m = local.market(local.default)
    assert m.queue_type == QueueType.NODE and m.queue == [node.pubkey]
    assert not local.exists(tx.keys["run"].pubkey())


def test_work_takes_the_oldest_job(local: Local) -> None:
    first = local.list_job(local.default, local.clients[0]).keys["job"].pubkey()
    second = local.list_job(local.default, local.clients[1]).keys["job"].pubkey()
    node = local.nodes[0]
    local.warp(5)
    tx = local.work(local.default, node)
    run_key = tx.keys["run"].pubkey()
    account = local.svm.get_account(run_key)
    assert account.owner == local.program_id and len(account.data) == RUN_SIZE == 120
    data = bytes(account.data)
    assert data[:8] == RunAccount.DISCRIMINATOR and data[8:40] == bytes(first)
    assert data[40:72] == bytes(node.pubkey) and data[72:104] == bytes(node.pubkey)
    assert data[104] == 0 and int.from_bytes(data[105:113], "little") == local.now()
    m = local.market(local.default)
    assert m.queue == [second] and m.queue_type == QueueType.JOB


def test_work_errors(local: Local) -> None:
    node, other = local.nodes[0], local.nodes[1]
    local.work(local.default, node)
    assert local.send(local.tx_work(local.default, node)).error == custom(JobsError.NodeAlreadyQueued)
    tx = local.tx_work(local.default, other, stake=node.stake)
    assert local.send(tx).error == builtin("InvalidSeeds")  # not the node's stake PDA
    tx = local.tx_work(local.default, other)
    local.svm.airdrop(tx.keys["run"].pubkey(), 10_000)
    assert local.send(tx).error == builtin("AccountAlreadyInitialized")
    tx = local.tx_work(local.default, other, nft=Pubkey.new_unique())
    assert local.send(tx).error == builtin("InvalidAccountOwner")  # nft: always a token account
    tx = local.tx_work(local.default, other, system_program=Pubkey.new_unique())
    assert local.send(tx).error == builtin("IncorrectProgramId")


def test_work_checks_the_stake_account(local: Local) -> None:
    node = local.nodes[0]
    stake, _ = pda.stake(node.pubkey, MAINNET.nos_mint, MAINNET.staking_program)
    staking = MAINNET.staking_program

    def write(data: bytes, owner: Pubkey = staking) -> None:
        local.svm.set_account(stake, raw_accounts.rent_exempt(local.svm, data, owner))

    write(raw_accounts.stake_data(Pubkey.new_unique(), xnos=10**12))
    assert local.send(local.tx_work(local.priced, node)).error == custom(JobsError.NodeStakeUnauthorized)
    write(raw_accounts.stake_data(node.pubkey, xnos=0))
    assert local.send(local.tx_work(local.priced, node)).error == custom(JobsError.NodeNotEnoughStake)
    write(raw_accounts.stake_data(node.pubkey, xnos=10**12), owner=Pubkey.new_unique())
    assert local.send(local.tx_work(local.priced, node)).error == builtin("InvalidAccountOwner")
    write(b"\0" * 120)
    assert local.send(local.tx_work(local.priced, node)).error == builtin("InvalidAccountData")
    write(raw_accounts.stake_data(node.pubkey, xnos=1))  # exactly the priced market's minimum
    local.send(local.tx_work(local.priced, node)).expect_ok()


def test_work_compares_xnos_as_u128(local: Local) -> None:
    market = local.open(MarketSettings(job_price=0, node_xnos_minimum=(1 << 64) + 1))
    node = local.nodes[0]
    stake, _ = pda.stake(node.pubkey, MAINNET.nos_mint, MAINNET.staking_program)
    data = raw_accounts.stake_data(node.pubkey, xnos=(1 << 64))
    local.svm.set_account(stake, raw_accounts.rent_exempt(local.svm, data, MAINNET.staking_program))
    assert local.send(local.tx_work(market, node)).error == custom(JobsError.NodeNotEnoughStake)
    data = raw_accounts.stake_data(node.pubkey, xnos=(1 << 65))
    local.svm.set_account(stake, raw_accounts.rent_exempt(local.svm, data, MAINNET.staking_program))
    local.send(local.tx_work(market, node)).expect_ok()


# ---- access-key markets ----------------------------------------------------------------------------


def test_access_key_market_accepts_a_verified_collection_nft(local: Local) -> None:
    collection = Pubkey.new_unique()
    market = local.open(MarketSettings(job_price=0, access_key=collection))
    node = local.nodes[0]
    nft, metadata = local.access_nft(node, collection)
    local.send(local.tx_work(market, node, nft=nft, metadata=metadata)).expect_ok()
    assert local.market(market).queue == [node.pubkey]


def test_access_key_market_errors(local: Local) -> None:
    collection = Pubkey.new_unique()
    market = local.open(MarketSettings(job_price=0, access_key=collection))
    node = local.nodes[0]

    def work_with(nft: Pubkey, metadata: Pubkey) -> dict | None:
        return local.send(local.tx_work(market, node, nft=nft, metadata=metadata)).error

    nft, metadata = local.access_nft(node, collection, holder=Pubkey.new_unique())
    assert work_with(nft, metadata) == custom(JobsError.NodeNftWrongOwner)
    nft, metadata = local.access_nft(node, collection, amount=0)
    assert work_with(nft, metadata) == custom(JobsError.NodeNftInvalidAmount)
    nft, _ = local.access_nft(node, collection)
    _, other_metadata = local.access_nft(node, collection)
    assert work_with(nft, other_metadata) == custom(JobsError.NodeNftWrongMetadata)
    nft, metadata = local.access_nft(node, collection, verified=False)
    assert work_with(nft, metadata) == custom(JobsError.NodeKeyInvalidCollection)
    nft, metadata = local.access_nft(node, Pubkey.new_unique())
    assert work_with(nft, metadata) == custom(JobsError.NodeKeyInvalidCollection)
    nft, metadata = local.access_nft(node, collection, with_collection=False)
    assert work_with(nft, metadata) == custom(JobsError.NodeKeyInvalidCollection)
    # an open market accepts any token account and any metadata account
    local.send(local.tx_work(local.default, node, nft=nft, metadata=Pubkey.new_unique())).expect_ok()


def test_claim_checks_the_access_key_too(local: Local) -> None:
    collection = Pubkey.new_unique()
    market = local.open(MarketSettings(job_price=0, access_key=collection))
    client, first, second = local.clients[0], local.nodes[0], local.nodes[1]
    nft, metadata = local.access_nft(first, collection)
    local.list_job(market, client)
    worked = local.tx_work(market, first, nft=nft, metadata=metadata)
    local.send(worked).expect_ok()
    job = local.run(worked.keys["run"].pubkey()).job
    local.send(local.tx_quit(job, worked.keys["run"].pubkey(), first)).expect_ok()
    tx = local.tx_claim(job, second, nft=nft, metadata=metadata)  # first's NFT
    assert local.send(tx).error == custom(JobsError.NodeNftWrongOwner)
    own_nft, own_metadata = local.access_nft(second, collection)
    local.send(local.tx_claim(job, second, nft=own_nft, metadata=own_metadata)).expect_ok()


# ---- stop ----------------------------------------------------------------------------------------


def test_stop_by_the_node_and_by_the_market_authority(local: Local) -> None:
    a, b, c = local.nodes
    for node in (a, b, c):
        local.work(local.default, node)
    local.send(local.tx_stop(local.default, b.pubkey, b.keypair)).expect_ok()
    assert local.market(local.default).queue == [a.pubkey, c.pubkey]
    local.send(local.tx_stop(local.default, a.pubkey, local.admin)).expect_ok()  # market authority
    local.send(local.tx_stop(local.default, c.pubkey, c.keypair)).expect_ok()
    m = local.market(local.default)
    assert m.queue == [] and m.queue_type == QueueType.EMPTY


def test_stop_errors(local: Local) -> None:
    a, b = local.nodes[0], local.nodes[1]
    tx = local.tx_stop(local.default, a.pubkey, a.keypair)
    assert local.send(tx).error == custom(JobsError.MarketInWrongState)
    local.work(local.default, a)
    tx = local.tx_stop(local.default, a.pubkey, b.keypair)
    assert local.send(tx).error == custom(CommonError.Unauthorized)
    tx = local.tx_stop(local.default, b.pubkey, b.keypair)
    assert local.send(tx).error == custom(JobsError.NotInMarketQueue)


# ---- quit and claim -------------------------------------------------------------------------------


def test_quit_stops_the_job_and_closes_the_run(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    sol = local.lamports(node.pubkey)
    rent = local.lamports(run)
    local.send(local.tx_quit(job, run, node)).expect_ok()
    assert local.job(job).state == JobState.STOPPED
    assert not local.exists(run) and local.lamports(node.pubkey) == sol + rent - 5_000


def test_quit_errors(local: Local) -> None:
    client, node, other = local.clients[0], local.nodes[0], local.nodes[1]
    job, run = local.running_job(local.default, client, node)
    job2, run2 = local.running_job(local.default, client, other)
    assert local.send(local.tx_quit(job, run, other)).error == custom(CommonError.Unauthorized)
    assert local.send(local.tx_quit(job, run2, other)).error == custom(JobsError.InvalidJobAccount)
    assert local.send(local.tx_quit(job, run, node, payer=client.pubkey)).error == custom(
        CommonError.InvalidPayer
    )
    assert job2 != job


def test_claim_lets_another_node_take_a_stopped_job(local: Local) -> None:
    client, first, second = local.clients[0], local.nodes[0], local.nodes[1]
    job, run = local.running_job(local.default, client, first)
    local.send(local.tx_quit(job, run, first)).expect_ok()
    local.warp(10)
    tx = local.tx_claim(job, second)
    local.send(tx).expect_ok()
    claimed = local.run(tx.keys["run"].pubkey())
    assert (claimed.job, claimed.node, claimed.payer, claimed.time) == (
        job,
        second.pubkey,
        second.pubkey,
        local.now(),
    )
    # the claimer finishes it
    local.send(local.tx_finish(job, tx.keys["run"].pubkey(), second, client)).expect_ok()
    assert local.job(job).state == JobState.DONE and local.job(job).node == second.pubkey


def test_claim_errors(local: Local) -> None:
    client, first, second = local.clients[0], local.nodes[0], local.nodes[1]
    job, run = local.running_job(local.priced, client, first)
    assert local.send(local.tx_claim(job, second)).error == custom(JobsError.JobInWrongState)
    local.send(local.tx_quit(job, run, first)).expect_ok()
    tx = local.tx_claim(job, second, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    stake, _ = pda.stake(second.pubkey, MAINNET.nos_mint, MAINNET.staking_program)
    data = raw_accounts.stake_data(second.pubkey, xnos=0)
    local.svm.set_account(stake, raw_accounts.rent_exempt(local.svm, data, MAINNET.staking_program))
    assert local.send(local.tx_claim(job, second)).error == custom(JobsError.NodeNotEnoughStake)


# ---- complete ------------------------------------------------------------------------------------


def test_complete_sets_the_result_of_an_ended_job(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    assert local.send(local.tx_complete(job, node)).error == custom(JobsError.JobInWrongState)
    local.send(local.tx_end(job, run, client, node)).expect_ok()
    assert local.send(local.tx_complete(job, local.nodes[1])).error == custom(CommonError.Unauthorized)
    assert local.send(local.tx_complete(job, node, bytes(32))).error == custom(JobsError.JobResultNull)
    local.send(local.tx_complete(job, node)).expect_ok()
    assert local.job(job).ipfs_result == RESULT_DIGEST
    assert local.send(local.tx_complete(job, node)).error == custom(JobsError.JobResultsAlreadySet)


# ---- finish --------------------------------------------------------------------------------------


def test_finish_at_price_zero(local: Local) -> None:
    client, node = local.clients[0], local.nodes[0]
    job, run = local.running_job(local.default, client, node)
    started = local.now()
    local.warp(77)
    local.send(local.tx_finish(job, run, node, client)).expect_ok()
    data = local.data(job)
    assert data[40:72] == RESULT_DIGEST and data[104:136] == bytes(node.pubkey) and data[208] == JobState.DONE
    assert int.from_bytes(data[209:217], "little") == started + 77  # time_end
    assert int.from_bytes(data[217:225], "little") == started  # time_start = run.time
    assert not local.exists(run)


def test_finish_errors(local: Local) -> None:
    client, node, other = local.clients[0], local.nodes[0], local.nodes[1]
    job, run = local.running_job(local.priced, client, node)
    job2, run2 = local.running_job(local.priced, client, other)
    tx = local.tx_finish(job, run, node, client)
    tx.args["ipfs_result"] = bytes(32)
    assert local.send(tx).error == custom(JobsError.JobResultNull)
    assert local.send(local.tx_finish(job, run2, other, client)).error == custom(JobsError.InvalidJobAccount)
    tx = local.tx_finish(job, run, other, client)
    assert local.send(tx).error == custom(CommonError.Unauthorized)
    tx = local.tx_finish(job, run, node, client, market=local.default.address)
    assert local.send(tx).error == custom(JobsError.InvalidMarketAccount)
    tx = local.tx_finish(job, run, node, client, payer_run=client.pubkey)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)
    tx = local.tx_finish(job, run, node, client, payer_job=node.pubkey)
    assert local.send(tx).error == custom(CommonError.InvalidPayer)
    tx = local.tx_finish(job, run, node, client, deposit=node.nos_account)
    assert local.send(tx).error == custom(CommonError.InvalidATA)  # the node cannot take the refund
    tx = local.tx_finish(job, run, node, client, vault=local.default.vault)
    assert local.send(tx).error == custom(CommonError.InvalidVault)
    assert job2 != job


def test_a_job_is_paid_once_even_with_two_claimed_runs(local: Local) -> None:
    """Two nodes may claim the same stopped job; only the first finish pays."""
    client, first, second, third = local.clients[0], *local.nodes
    job, run = local.running_job(local.priced, client, first)
    local.send(local.tx_quit(job, run, first)).expect_ok()
    claim_a, claim_b = local.tx_claim(job, second), local.tx_claim(job, third)
    local.send(claim_a).expect_ok()
    local.send(claim_b).expect_ok()
    local.send(local.tx_finish(job, claim_a.keys["run"].pubkey(), second, client)).expect_ok()
    tx = local.tx_finish(job, claim_b.keys["run"].pubkey(), third, client)
    assert local.send(tx).error == custom(JobsError.JobInWrongState)
    tx = local.tx_end(job, claim_b.keys["run"].pubkey(), client, third)
    assert local.send(tx).error == custom(JobsError.JobInWrongState)
    tx = local.tx_quit(job, claim_b.keys["run"].pubkey(), third)
    assert local.send(tx).error == custom(JobsError.JobInWrongState)
