"""WebSocket PubSub of the local market, driven by solana.rpc.websocket_api."""

from __future__ import annotations

import asyncio
import hashlib
import time

import based58
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.types import MemcmpOpts
from solana.rpc.websocket_api import connect
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import (
    AccountNotification,
    LogsNotification,
    ProgramNotification,
    SignatureNotification,
    SlotNotification,
)
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from tests.localnet import spec_client as spec
from tests.localnet.conftest import Served, run

DOC = hashlib.sha256(b"job").digest()


async def _next(ws, kind: type, timeout: float = 5.0):
    """The next message of type ``kind`` (other notifications are skipped)."""
    while True:
        for message in await asyncio.wait_for(ws.recv(), timeout):
            if isinstance(message, kind):
                return message


async def _until(ws, kind: type, timeout: float = 5.0) -> list:
    """Every message up to and including the first of type ``kind`` (notifications of one
    connection arrive in the order the chain produced them)."""
    seen: list = []
    while not seen or not isinstance(seen[-1], kind):
        seen.extend(await asyncio.wait_for(ws.recv(), timeout))
    return seen


async def _transfer_tx(client: AsyncClient, payer: Keypair, to: Pubkey, lamports: int) -> Transaction:
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return Transaction([payer], Message([ix], payer.pubkey()), blockhash)


def test_account_signature_and_logs_notifications(served: Served) -> None:
    payer, receiver = served.keypair("client-1"), Keypair().pubkey()

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client, connect(served.ws_url) as ws:
            await ws.account_subscribe(receiver, encoding="base64")
            account_sub = (await ws.recv())[0].result
            tx = await _transfer_tx(client, payer, receiver, 2 * 10**9)
            await ws.signature_subscribe(tx.signatures[0])
            await ws.recv()
            await ws.logs_subscribe(RpcTransactionLogsFilterMentions(receiver))
            await ws.recv()
            await client.send_transaction(tx)
            account = await _next(ws, AccountNotification)
            assert account.subscription == account_sub and account.result.value.lamports == 2 * 10**9
            signature = await _next(ws, SignatureNotification)
            assert signature.result.value.err is None
            logs = await _next(ws, LogsNotification)
            assert logs.result.value.signature == tx.signatures[0]
            assert any("invoke" in line for line in logs.result.value.logs)
            # unsubscribed: no more account notifications
            await ws.account_unsubscribe(account_sub)
            assert (await ws.recv())[0].result is True
            later = await _transfer_tx(client, payer, receiver, 10**9 + 1)
            await ws.signature_subscribe(later.signatures[0])  # announced after its accounts
            await ws.recv()
            await client.send_transaction(later)
            before_signature = await _until(ws, SignatureNotification)
            assert not any(isinstance(m, AccountNotification) for m in before_signature)

    run(go())


def test_a_signature_that_already_landed_is_notified_at_once(served: Served) -> None:
    payer = served.keypair("client-2")

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client, connect(served.ws_url) as ws:
            tx = await _transfer_tx(client, payer, Keypair().pubkey(), 10**9)
            await client.send_transaction(tx)
            await ws.signature_subscribe(tx.signatures[0])
            answer = (await ws.recv())[0]
            note = await _next(ws, SignatureNotification)
            assert note.subscription == answer.result and note.result.value.err is None

    run(go())


def test_program_subscription_with_filters_sees_the_jobs(served: Served) -> None:
    market, vault = served.market("default")
    client_kp = served.keypair("client-1")
    job, run_kp = Keypair(), Keypair()

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client, connect(served.ws_url) as ws:
            job_filter = [MemcmpOpts(offset=0, bytes=based58.b58encode(spec.JOB_DISCRIMINATOR).decode())]
            await ws.program_subscribe(spec.JOBS_PROGRAM, encoding="base64", filters=job_filter)
            await ws.recv()
            blockhash = (await client.get_latest_blockhash()).value.blockhash
            ix = spec.list_ix(market, vault, client_kp.pubkey(), job.pubkey(), run_kp.pubkey(), DOC)
            tx = Transaction([client_kp, job, run_kp], Message([ix], client_kp.pubkey()), blockhash)
            await ws.signature_subscribe(tx.signatures[0])  # announced after the accounts
            await ws.recv()
            await client.send_transaction(tx)
            notes = [m for m in await _until(ws, SignatureNotification) if isinstance(m, ProgramNotification)]
            assert [n.result.value.pubkey for n in notes] == [job.pubkey()]  # the market is filtered out
            assert spec.decode_job(bytes(notes[0].result.value.account.data)).ipfs_job == DOC

    run(go())


def test_slot_notifications_arrive_every_slot(served: Served) -> None:
    async def go() -> None:
        async with connect(served.ws_url) as ws:
            await ws.slot_subscribe()
            sub = (await ws.recv())[0].result
            first = await _next(ws, SlotNotification, timeout=3)
            second = await _next(ws, SlotNotification, timeout=3)
            assert first.subscription == sub and second.result.slot > first.result.slot
            assert second.result.parent == second.result.slot - 1
            await ws.slot_unsubscribe(sub)

    run(go())


def test_identical_subscriptions_share_one_source(served: Served) -> None:
    """Two connections, three identical account subscriptions and one other: two sources, and
    every subscriber still hears its own notification."""
    payer, receiver = served.keypair("client-1"), Keypair().pubkey()
    subscriptions = served.server.server.subscriptions

    async def go() -> None:
        async with (
            AsyncClient(served.rpc_url, commitment=Confirmed) as client,
            connect(served.ws_url) as first,
            connect(served.ws_url) as second,
        ):
            ids = []
            for ws in (first, first, second):
                await ws.account_subscribe(receiver, commitment=Confirmed, encoding="base64")
                ids.append((await ws.recv())[0].result)
            await second.account_subscribe(receiver, commitment=Confirmed, encoding="jsonParsed")
            await second.recv()
            assert len(subscriptions) == 4 and subscriptions.sources == 2
            await client.send_transaction(await _transfer_tx(client, payer, receiver, 10**9))
            heard = [await _next(ws, AccountNotification) for ws in (first, first, second)]
            assert sorted(n.subscription for n in heard) == sorted(ids)
            assert all(n.result.value.lamports == 10**9 for n in heard)

    run(go())
    deadline = time.monotonic() + 10  # closed connections are forgotten (once the server sees them)
    while (len(subscriptions) or subscriptions.sources) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(subscriptions) == 0 and subscriptions.sources == 0
