"""The jobs program over JSON-RPC, driven by the plain Solana Python client (acceptance of issue 3)."""

from __future__ import annotations

import base64
import hashlib

import based58
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import MemcmpOpts, TxOpts
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from tests.localnet import spec_client as spec
from tests.localnet.conftest import CONFIRMED, Served, run

RESULT = hashlib.sha256(b"the result document").digest()
JOB_DOC = hashlib.sha256(b"the job document").digest()


async def _send(
    client: AsyncClient, signers: list[Keypair], *ixs: Instruction, skip_preflight: bool = False
) -> Signature:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction(signers, Message(list(ixs), signers[0].pubkey()), blockhash)
    signature = (await client.send_transaction(tx, opts=TxOpts(skip_preflight=skip_preflight))).value
    await client.confirm_transaction(signature)
    return signature


async def _data(client: AsyncClient, address: Pubkey) -> bytes | None:
    info = (await client.get_account_info(address, encoding="base64")).value
    return None if info is None else bytes(info.data)


def test_default_market_reads_and_decodes_to_the_spec_fields(served: Served) -> None:
    address, vault = served.market("default")
    admin = served.keypair("admin").pubkey()

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            info = (await client.get_account_info(address, encoding="base64")).value
            assert info is not None and info.owner == spec.JOBS_PROGRAM
            assert len(info.data) == 8 + 168 + 314 * 32
            market = spec.decode_market(bytes(info.data))
            assert market.authority == admin
            assert (market.job_price, market.job_timeout, market.job_expiration) == (0, 3600, 86400)
            assert market.job_type == 0 and market.node_xnos_minimum == 0
            expected_vault = Pubkey.find_program_address(
                [bytes(address), bytes(spec.NOS_MINT)], spec.JOBS_PROGRAM
            )
            assert market.vault == vault == expected_vault[0]
            assert market.node_access_key == spec.SYSTEM_PROGRAM  # open market
            assert market.queue_type == 255 and market.queue == []  # Empty
            priced = spec.decode_market(await _data(client, served.market("priced")[0]))
            assert priced.job_price > 0
            found = await client.get_program_accounts(
                spec.JOBS_PROGRAM,
                encoding="base64",
                filters=[MemcmpOpts(offset=0, bytes=based58.b58encode(spec.MARKET_DISCRIMINATOR).decode())],
            )
            assert {k.pubkey for k in found.value} == {address, served.market("priced")[0]}

    run(go())


def test_list_work_finish_over_rpc_leaves_the_job_done_with_the_result(served: Served) -> None:
    market, vault = served.market("default")
    client_kp, node_kp = served.keypair("client-1"), served.keypair("node-1")
    job, run_list, run_work = Keypair(), Keypair(), Keypair()

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            await _send(
                client,
                [client_kp, job, run_list],
                spec.list_ix(market, vault, client_kp.pubkey(), job.pubkey(), run_list.pubkey(), JOB_DOC),
            )
            queued = spec.decode_market(await _data(client, market))
            assert queued.queue_type == 0 and queued.queue == [job.pubkey()]
            await _send(
                client, [node_kp, run_work], spec.work_ix(market, node_kp.pubkey(), run_work.pubkey())
            )
            assert spec.decode_market(await _data(client, market)).queue == []
            assert await _data(client, run_work.pubkey()) is not None  # the run account
            signature = await _send(
                client,
                [node_kp],
                spec.finish_ix(
                    job.pubkey(),
                    run_work.pubkey(),
                    market,
                    vault,
                    client_kp.pubkey(),
                    node_kp.pubkey(),
                    RESULT,
                ),
            )
            done = spec.decode_job(await _data(client, job.pubkey()))
            assert done.state == spec.JOB_DONE
            assert done.ipfs_result == RESULT and done.ipfs_job == JOB_DOC
            assert done.node == node_kp.pubkey() and done.project == client_kp.pubkey()
            assert done.time_end >= done.time_start > 0
            assert await _data(client, run_work.pubkey()) is None  # the run is closed
            tx = (await client.get_transaction(signature)).value
            assert tx.transaction.meta.err is None
            assert any("Instruction: Finish" in line for line in tx.transaction.meta.log_messages)

    run(go())


def test_payment_at_a_price_moves_nos_by_the_spec(served: Served) -> None:
    market, vault = served.market("priced")
    client_kp, node_kp = served.keypair("client-2"), served.keypair("node-2")
    job, run_list, run_work = Keypair(), Keypair(), Keypair()
    client_nos, node_nos = spec.nos_account(client_kp.pubkey()), spec.nos_account(node_kp.pubkey())

    async def balance(client: AsyncClient, account: Pubkey) -> int:
        return int((await client.get_token_account_balance(account)).value.amount)

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            price = spec.decode_market(await _data(client, market)).job_price
            start_client, start_node = await balance(client, client_nos), await balance(client, node_nos)
            await _send(
                client,
                [client_kp, job, run_list],
                spec.list_ix(market, vault, client_kp.pubkey(), job.pubkey(), run_list.pubkey(), JOB_DOC),
            )
            assert await balance(client, vault) == price * 600  # deposit = price x timeout
            assert await balance(client, client_nos) == start_client - price * 600
            await _send(
                client, [node_kp, run_work], spec.work_ix(market, node_kp.pubkey(), run_work.pubkey())
            )
            served.net.chain.warp(120)  # two minutes of work
            await _send(
                client,
                [node_kp],
                spec.finish_ix(
                    job.pubkey(),
                    run_work.pubkey(),
                    market,
                    vault,
                    client_kp.pubkey(),
                    node_kp.pubkey(),
                    RESULT,
                ),
            )
            job_account = spec.decode_job(await _data(client, job.pubkey()))
            worked = job_account.time_end - job_account.time_start
            assert 120 <= worked <= 125
            paid = price * min(worked, 600)
            assert await balance(client, node_nos) == start_node + paid
            assert await balance(client, client_nos) == start_client - paid  # the rest came back
            assert await balance(client, vault) == 0

    run(go())


def test_a_failing_transaction_answers_as_solana_does(served: Served) -> None:
    market, vault = served.market("default")
    client_kp, node_kp = served.keypair("client-1"), served.keypair("node-1")
    job, run_list, run_work = Keypair(), Keypair(), Keypair()
    landed_signature: list[Signature] = []

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            await _send(
                client,
                [client_kp, job, run_list],
                spec.list_ix(market, vault, client_kp.pubkey(), job.pubkey(), run_list.pubkey(), JOB_DOC),
            )
            await _send(
                client, [node_kp, run_work], spec.work_ix(market, node_kp.pubkey(), run_work.pubkey())
            )
            null_result = spec.finish_ix(
                job.pubkey(),
                run_work.pubkey(),
                market,
                vault,
                client_kp.pubkey(),
                node_kp.pubkey(),
                bytes(32),
            )
            before = (await client.get_balance(node_kp.pubkey())).value
            with pytest.raises(RPCException) as failed:
                await _send(client, [node_kp], null_result)
            text = str(failed.value)
            assert "custom program error: 0x1776" in text  # 6006 JobResultNull
            assert (await client.get_balance(node_kp.pubkey())).value == before  # preflight: nothing charged
            # without preflight the transaction lands, fails, and pays its fee
            signature = await _send(client, [node_kp], null_result, skip_preflight=True)
            landed_signature.append(signature)
            status = (await client.get_signature_statuses([signature])).value[0]
            assert status is not None and status.err is not None
            assert (await client.get_balance(node_kp.pubkey())).value == before - 5000
            assert spec.decode_job(await _data(client, job.pubkey())).state == 0  # still queued/running

    run(go())
    # the raw shapes: -32002 with the logs and the custom error as JSON
    last = served.net.chain.transaction(landed_signature[0])
    assert last is not None
    served.net.chain.advance_slot()  # a new slot's blockhash: a new signature
    blockhash = served.result("getLatestBlockhash", CONFIRMED)["value"]["blockhash"]
    assert blockhash != last_blockhash(last)
    tx = Transaction(
        [node_kp],
        Message(
            [
                spec.finish_ix(
                    job.pubkey(),
                    run_work.pubkey(),
                    market,
                    vault,
                    client_kp.pubkey(),
                    node_kp.pubkey(),
                    bytes(32),
                )
            ],
            node_kp.pubkey(),
        ),
        Hash.from_string(blockhash),
    )
    response = served.raw("sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"})
    error = response["error"]
    assert error["message"].startswith("Transaction simulation failed: Error processing Instruction 0")
    assert error["code"] == -32002
    assert error["data"]["err"] == {"InstructionError": [0, {"Custom": 6006}]}
    assert any("Instruction: Finish" in line for line in error["data"]["logs"])
    signature = served.result(
        "sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "skipPreflight": True}
    )
    landed = served.result("getTransaction", signature, {"encoding": "json", **CONFIRMED})
    assert landed["meta"]["err"] == {"InstructionError": [0, {"Custom": 6006}]}
    assert landed["meta"]["status"] == {"Err": {"InstructionError": [0, {"Custom": 6006}]}}
    assert landed["meta"]["fee"] == 5000
    assert landed["transaction"]["signatures"] == [signature]


def last_blockhash(record: dict) -> str:
    """The blockhash a recorded transaction was signed with."""
    return str(VersionedTransaction.from_bytes(base64.b64decode(record["tx"])).message.recent_blockhash)
