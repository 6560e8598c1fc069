"""The chain client's reads and every instruction against the local market (real LiteSVM over RPC)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobState, QueueType
from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.failures import TransactionFailed
from nosana_node.chain.interface import Chain
from nosana_node.chain.provider import Provider
from nosana_node.chain.rpc import RpcClient
from nosana_node.chain.transactions import open_market
from nosana_node.errors import ChainError, UserInputError
from tests.chain.conftest import Served, digest, fresh_node

Connect = Callable[..., ChainClient]


def _open_market(served: Served, endpoint: Endpoint, **settings: object) -> Pubkey:
    admin, market = served.keypair("admin"), Keypair()
    ix, _ = open_market(
        endpoint.addresses,
        admin.pubkey(),
        market.pubkey(),
        program_id=endpoint.addresses.jobs_program,
        **settings,
    )
    with RpcClient(served.rpc_url) as rpc:
        Provider(rpc, admin).send([ix], [market], action="open market")
    return market.pubkey()


def test_the_client_implements_the_chain_seam(connect: Connect) -> None:
    assert isinstance(connect("client-1"), Chain)


def test_reads_markets_jobs_runs_stake_and_balances(endpoint: Endpoint, connect: Connect) -> None:
    client, node = connect("client-1"), connect("node-1")
    default, priced = endpoint.market("default"), endpoint.market("priced")
    markets = client.markets()
    assert set(markets) == {default, priced} and markets[priced].job_price > 0
    assert client.market(default).queue_type == QueueType.EMPTY

    queued = client.list_job(default, digest("queued"), 600)
    running = client.list_job(priced, digest("running"), 600)
    worked = node.work(priced)
    assert worked.job == running.job

    mine = client.jobs(project=client.wallet)
    assert set(mine) == {queued.job, running.job}
    assert set(client.jobs(market=default)) == {queued.job}
    assert set(client.jobs(state=JobState.QUEUED)) == {queued.job, running.job}
    assert client.jobs(state=JobState.DONE) == {}
    assert set(node.runs(node=node.wallet)) == {worked.run}
    assert node.runs(job=running.job)[worked.run].node == node.wallet
    assert client.job_view(queued.job).state == "QUEUED"
    assert client.job_view(running.job).state == "RUNNING"

    node.finish(running.job, digest("result"))
    assert client.job_view(running.job).state == "COMPLETED"
    assert set(client.jobs(node=node.wallet)) == {running.job}
    assert node.runs(node=node.wallet) == {}
    stake = node.stake()
    assert stake is not None and stake.authority == node.wallet and stake.xnos > 0
    assert client.stake() is None  # clients have no stake
    assert client.sol_balance() > 0 and client.nos_balance() > 0
    assert client.job(Keypair().pubkey()) is None


def test_delist_refunds_a_queued_job(endpoint: Endpoint, connect: Connect) -> None:
    client = connect("client-1")
    market = endpoint.market("priced")
    before = client.nos_balance()
    posted = client.list_job(market, digest("job"), 100)
    assert client.nos_balance() == before - 100 * client.market(market).job_price
    client.delist(posted.job)
    assert client.job(posted.job) is None and client.nos_balance() == before
    assert client.market(market).queue == []


def test_end_pays_the_node_for_the_time_used_and_refunds_the_rest(
    served: Served, endpoint: Endpoint, connect: Connect
) -> None:
    client, node = connect("client-1"), connect("node-1")
    market = endpoint.market("priced")
    price = client.market(market).job_price
    client_before, node_before = client.nos_balance(), node.nos_balance()
    posted = client.list_job(market, digest("job"), 100)
    node.work(market)
    served.net.chain.warp(10)
    client.end(posted.job)
    job = client.job(posted.job)
    used = job.time_end - job.time_start
    assert job.state == JobState.DONE and 10 <= used < 100
    assert node.nos_balance() == node_before + used * price
    assert client.nos_balance() == client_before - used * price
    assert node.runs(node=node.wallet) == {}


def test_extend_moves_the_timeout_and_deposits_the_difference(endpoint: Endpoint, connect: Connect) -> None:
    client = connect("client-1")
    market = endpoint.market("priced")
    price = client.market(market).job_price
    posted = client.list_job(market, digest("job"), 100)
    before = client.nos_balance()
    client.extend(posted.job, 250)
    assert client.job(posted.job).timeout == 250 and client.nos_balance() == before - 150 * price
    with pytest.raises(TransactionFailed) as caught:
        client.extend(posted.job, 200)
    assert str(caught.value) == (
        "extend failed: JobTimeoutNotGreater (6008): The new timeout must be greater than the current one."
    )
    assert caught.value.program_error == "JobTimeoutNotGreater" and caught.value.code == 6008


def test_quit_then_claim_by_another_node_then_recover_after_another_quit(
    endpoint: Endpoint, connect: Connect
) -> None:
    client, first, second = connect("client-1"), connect("node-1"), connect("node-2")
    market = endpoint.market("priced")
    before = client.nos_balance()
    posted = client.list_job(market, digest("job"), 100)
    first.work(market)
    first.quit(posted.job)
    assert client.job_view(posted.job).state == "STOPPED"
    claimed = second.claim(posted.job)
    assert second.run(claimed.run).node == second.wallet and client.job_view(posted.job).state == "RUNNING"
    second.quit(posted.job)
    client.recover(posted.job)
    assert client.job(posted.job) is None and client.nos_balance() == before


def test_work_queues_the_node_and_stop_takes_it_out(endpoint: Endpoint, connect: Connect) -> None:
    node = connect("node-1")
    market = endpoint.market("default")
    worked = node.work(market)
    assert worked.job is None and node.market(market).queue == [node.wallet]
    with pytest.raises(TransactionFailed, match=r"^work failed: NodeAlreadyQueued \(6014\): "):
        node.work(market)
    node.stop(market)
    assert node.market(market).queue == []
    with pytest.raises(TransactionFailed, match=r"^stop failed: MarketInWrongState \(6001\)"):
        connect("node-2").stop(market)


def test_program_errors_are_named_never_a_bare_number(
    served: Served, endpoint: Endpoint, connect: Connect
) -> None:
    demanding = _open_market(served, endpoint, node_xnos_minimum=10**30)
    node = connect("node-1")
    with pytest.raises(TransactionFailed) as caught:
        node.work(demanding)
    assert (
        str(caught.value)
        == "work failed: NodeNotEnoughStake (6013): The node's stake is below the market's minimum."
    )
    assert caught.value.logs  # the program's logs are kept for whoever wants them
    client = connect("client-1")
    posted = client.list_job(endpoint.market("default"), digest("job"), 600)
    with pytest.raises(ChainError, match=r"has no run of node"):
        connect("node-2").finish(posted.job, digest("result"))
    with pytest.raises(UserInputError, match="not all zero"):
        node.finish(posted.job, bytes(32))


def test_builtin_errors_name_the_failing_program(
    served: Served, endpoint: Endpoint, connect: Connect
) -> None:
    poor = Keypair()
    served.result("requestAirdrop", str(poor.pubkey()), 10**9)
    client = connect(poor)
    client.provider.send(client._ensure_token_accounts([poor.pubkey()]), action="create")
    with pytest.raises(TransactionFailed) as caught:
        client.list_job(endpoint.market("priced"), digest("job"), 100)
    assert str(caught.value) == "list failed: InsufficientFunds (jobs program)"


def test_a_fee_payer_without_sol_is_told_so(endpoint: Endpoint, connect: Connect) -> None:
    with pytest.raises(TransactionFailed, match=r"^list failed: AccountNotFound: the fee payer has no SOL"):
        connect(Keypair()).list_job(endpoint.market("default"), digest("job"), 100)


def test_access_key_market_takes_the_nodes_nft(served: Served, endpoint: Endpoint, connect: Connect) -> None:
    from nosana_node.chain import pda
    from nosana_node.chain.addresses import METAPLEX_METADATA_PROGRAM, TOKEN_PROGRAM
    from nosana_node.localnet import raw_accounts

    collection = Keypair().pubkey()
    market = _open_market(served, endpoint, access_key=collection)
    chain = served.net.chain
    holder = connect(fresh_node(served, endpoint))
    with pytest.raises(UserInputError, match="holds no NFT of that collection"):
        holder.work(market)
    mint, account = Keypair().pubkey(), Keypair().pubkey()
    chain.set_account(
        mint, raw_accounts.rent_exempt(chain, raw_accounts.mint_data(None, 1, 0), TOKEN_PROGRAM)
    )
    token = raw_accounts.token_account_data(mint, holder.wallet, 1)
    chain.set_account(account, raw_accounts.rent_exempt(chain, token, TOKEN_PROGRAM))
    metadata = raw_accounts.metadata_data(mint, collection=collection)
    chain.set_account(
        pda.metadata(mint)[0], raw_accounts.rent_exempt(chain, metadata, METAPLEX_METADATA_PROGRAM)
    )
    assert holder.work(market).job is None and holder.market(market).queue == [holder.wallet]
