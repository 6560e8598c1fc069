"""Solana JSON-RPC shapes of the local market: accounts, tokens, transactions, cluster, errors."""

from __future__ import annotations

import asyncio
import base64

import based58
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.types import DataSliceOpts, MemcmpOpts, TokenAccountOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from tests.localnet import spec_client as spec
from tests.localnet.conftest import CONFIRMED, HTTP, Served, run

MARKET_SIZE = 8 + 168 + 314 * 32


def _transfer(
    served: Served, payer: Keypair, to: Pubkey, lamports: int, blockhash: str | None = None
) -> Transaction:
    blockhash = blockhash or served.result("getLatestBlockhash")["value"]["blockhash"]
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return Transaction([payer], Message([ix], payer.pubkey()), Hash.from_string(blockhash))


def test_accounts_balances_and_tokens(served: Served) -> None:
    owner = served.keypair("client-1").pubkey()
    nos = spec.nos_account(owner)
    market, _ = served.market("default")

    async def go() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            assert (await client.get_balance(owner)).value == 100 * 10**9
            many = (await client.get_multiple_accounts([owner, Pubkey.new_unique(), nos])).value
            assert many[0].lamports == 100 * 10**9 and many[1] is None and many[2].owner == spec.TOKEN_PROGRAM
            amount = (await client.get_token_account_balance(nos)).value
            assert (amount.amount, amount.decimals, amount.ui_amount_string) == (
                "1000000000000",
                6,
                "1000000",
            )
            by_mint = (
                await client.get_token_accounts_by_owner(owner, TokenAccountOpts(mint=spec.NOS_MINT))
            ).value
            assert [a.pubkey for a in by_mint] == [nos]
            parsed = (
                await client.get_token_accounts_by_owner_json_parsed(
                    owner, TokenAccountOpts(program_id=spec.TOKEN_PROGRAM)
                )
            ).value
            info = parsed[0].account.data.parsed["info"]
            assert info["mint"] == str(spec.NOS_MINT) and info["owner"] == str(owner)
            assert info["tokenAmount"]["uiAmount"] == 1_000_000.0
            rent = (await client.get_minimum_balance_for_rent_exemption(0)).value
            assert rent == 890_880
            sliced = (
                await client.get_account_info(
                    market, encoding="base64", data_slice=DataSliceOpts(offset=0, length=8)
                )
            ).value
            assert bytes(sliced.data) == spec.MARKET_DISCRIMINATOR

    run(go())
    # errors a client can meet
    assert served.raw("getTokenAccountBalance", str(owner))["error"]["code"] == -32602
    assert served.raw("getBalance", "not-a-key")["error"]["code"] == -32602
    too_big = served.raw("getAccountInfo", str(market), {"encoding": "base58"})["error"]
    assert too_big["code"] == -32600 and "base 58" in too_big["message"]
    legacy = served.result("getAccountInfo", str(owner))["value"]  # default encoding: bare base58
    assert legacy["data"] == "" and legacy["space"] == 0 and legacy["rentEpoch"] == 2**64 - 1


def test_program_accounts_filters_and_encodings(served: Served) -> None:
    admin = served.keypair("admin").pubkey()
    markets = {str(served.market("default")[0]), str(served.market("priced")[0])}

    def keys(config: dict) -> set[str]:
        return {
            item["pubkey"] for item in served.result("getProgramAccounts", str(spec.JOBS_PROGRAM), config)
        }

    assert keys({"encoding": "base64", "filters": [{"dataSize": MARKET_SIZE}]}) == markets
    by_admin = {"memcmp": {"offset": 8, "bytes": str(admin)}}
    assert keys({"encoding": "base64", "filters": [by_admin, {"dataSize": MARKET_SIZE}]}) == markets
    base64_admin = {
        "memcmp": {"offset": 8, "bytes": base64.b64encode(bytes(admin)).decode(), "encoding": "base64"}
    }
    idl = served.net.genesis["idl"]  # the Anchor IDL account also holds the admin at offset 8
    assert keys({"encoding": "base64", "filters": [base64_admin]}) == {*markets, idl}
    assert (
        keys(
            {"encoding": "base64", "filters": [{"memcmp": {"offset": 8, "bytes": str(Pubkey.new_unique())}}]}
        )
        == set()
    )
    # base58 works for small data (a slice), as on Solana
    sliced = served.result(
        "getProgramAccounts",
        str(spec.JOBS_PROGRAM),
        {"encoding": "base58", "dataSlice": {"offset": 0, "length": 8}},
    )
    market_items = [i for i in sliced if i["pubkey"] in markets]
    assert {based58.b58decode(i["account"]["data"][0].encode()) for i in market_items} == {
        spec.MARKET_DISCRIMINATOR
    }
    with_context = served.result(
        "getProgramAccounts", str(spec.JOBS_PROGRAM), {"encoding": "base64", "withContext": True}
    )
    assert "slot" in with_context["context"] and len(with_context["value"]) >= 2
    bad = served.raw("getProgramAccounts", str(spec.JOBS_PROGRAM), {"filters": [{"nope": 1}]})
    assert bad["error"]["code"] == -32602

    async def solana_py() -> None:
        async with AsyncClient(served.rpc_url, commitment=Confirmed) as client:
            found = await client.get_program_accounts(
                spec.JOBS_PROGRAM,
                encoding="base64",
                filters=[MARKET_SIZE, MemcmpOpts(offset=8, bytes=str(admin))],
            )
            assert {str(a.pubkey) for a in found.value} == markets

    run(solana_py())


def test_send_in_both_encodings_and_statuses(held: Served) -> None:
    served = held
    payer, to = served.keypair("client-2"), Keypair().pubkey()
    tx58 = _transfer(served, payer, to, 10**9)
    sig58 = served.result("sendTransaction", based58.b58encode(bytes(tx58)).decode())  # base58 is the default
    tx64 = _transfer(served, payer, to, 2 * 10**9)
    sig64 = served.result("sendTransaction", base64.b64encode(bytes(tx64)).decode(), {"encoding": "base64"})
    assert sig58 == str(tx58.signatures[0]) and sig64 == str(tx64.signatures[0])
    assert served.result("getBalance", str(to), CONFIRMED)["value"] == 3 * 10**9
    unknown = str(Keypair().sign_message(b"x"))
    statuses = served.result("getSignatureStatuses", [sig58, sig64, unknown])["value"]
    assert statuses[0]["err"] is None and statuses[0]["status"] == {"Ok": None}
    assert statuses[0]["confirmationStatus"] == "confirmed" and statuses[2] is None
    served.commit()
    statuses = served.result("getSignatureStatuses", [sig58, sig64, unknown])["value"]
    assert statuses[0]["confirmationStatus"] == "finalized" and statuses[0]["confirmations"] is None
    got = served.result("getTransaction", sig64, {"encoding": "base64"})
    assert base64.b64decode(got["transaction"][0]) == bytes(tx64)
    assert got["meta"]["postBalances"][0] == got["meta"]["preBalances"][0] - 2 * 10**9 - 5000
    assert served.result("getTransaction", str(Keypair().sign_message(b"y"))) is None
    # the same transaction twice, and a garbled one
    again = served.raw("sendTransaction", base64.b64encode(bytes(tx64)).decode(), {"encoding": "base64"})[
        "error"
    ]
    assert again["code"] == -32002 and again["data"]["err"] == "AlreadyProcessed"
    garbled = served.raw("sendTransaction", "!!!", {"encoding": "base64"})["error"]
    assert garbled["code"] == -32602
    forged = bytearray(bytes(_transfer(served, payer, to, 5)))
    forged[-1] ^= 1  # the transfer amount changes under the signature
    bad_sig = served.raw("sendTransaction", base64.b64encode(bytes(forged)).decode(), {"encoding": "base64"})
    assert bad_sig["error"]["code"] == -32003


def test_blockhashes_fees_and_simulation(served: Served) -> None:
    payer, to = served.keypair("client-1"), Keypair().pubkey()
    latest = served.result("getLatestBlockhash")["value"]
    assert latest["lastValidBlockHeight"] >= served.result("getBlockHeight") + 149
    assert served.result("isBlockhashValid", latest["blockhash"])["value"] is True
    unknown = str(Hash.new_unique())
    assert served.result("isBlockhashValid", unknown)["value"] is False
    stale = _transfer(served, payer, to, 10**9, blockhash=unknown)
    refused = served.raw("sendTransaction", base64.b64encode(bytes(stale)).decode(), {"encoding": "base64"})
    assert refused["error"]["data"]["err"] == "BlockhashNotFound"
    assert "Blockhash not found" in refused["error"]["message"]
    # simulation commits nothing; replaceRecentBlockhash rescues a stale transaction
    tx = _transfer(served, payer, to, 10**9)
    encoded = base64.b64encode(bytes(tx)).decode()
    sim = served.result(
        "simulateTransaction",
        encoded,
        {"encoding": "base64", "accounts": {"addresses": [str(to)], "encoding": "base64"}},
    )["value"]
    assert sim["err"] is None and sim["unitsConsumed"] > 0 and sim["logs"]
    assert sim["accounts"][0]["lamports"] == 10**9
    assert served.result("getBalance", str(to))["value"] == 0
    stale64 = base64.b64encode(bytes(stale)).decode()
    assert (
        served.result("simulateTransaction", stale64, {"encoding": "base64"})["value"]["err"]
        == "BlockhashNotFound"
    )
    replaced = served.result(
        "simulateTransaction", stale64, {"encoding": "base64", "replaceRecentBlockhash": True}
    )
    assert replaced["value"]["err"] is None and replaced["value"]["replacementBlockhash"]["blockhash"]
    unsigned = Transaction.new_unsigned(
        Message(
            [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=1))], payer.pubkey()
        )
    )
    unsigned_64 = base64.b64encode(bytes(unsigned)).decode()
    assert (
        served.result(
            "simulateTransaction", unsigned_64, {"encoding": "base64", "replaceRecentBlockhash": True}
        )["value"]["err"]
        is None
    )
    verify = {"encoding": "base64", "sigVerify": True}
    assert served.raw("simulateTransaction", unsigned_64, verify)["error"]["code"] == -32003
    both = served.raw(
        "simulateTransaction",
        unsigned_64,
        {"encoding": "base64", "sigVerify": True, "replaceRecentBlockhash": True},
    )
    assert both["error"]["code"] == -32602
    # fees
    message = base64.b64encode(bytes(tx.message)).decode()
    assert served.result("getFeeForMessage", message)["value"] == 5000
    two_signers = Message.new_with_blockhash(
        [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=1)),
         transfer(TransferParams(from_pubkey=to, to_pubkey=payer.pubkey(), lamports=1))],
        payer.pubkey(), Hash.from_string(latest["blockhash"]),
    )  # fmt: skip
    assert served.result("getFeeForMessage", base64.b64encode(bytes(two_signers)).decode())["value"] == 10_000
    fees = served.result("getRecentPrioritizationFees", [str(payer.pubkey())])
    assert fees and all(f["prioritizationFee"] == 0 for f in fees)


def test_cluster_methods_and_protocol_errors(served: Served) -> None:
    assert served.result("getHealth") == "ok"
    assert "solana-core" in served.result("getVersion")
    genesis = served.result("getGenesisHash")
    assert Hash.from_string(genesis) and served.result("getGenesisHash") == genesis
    slot = served.result("getSlot", CONFIRMED)
    served.net.chain.advance_slot()
    served.net.chain.advance_slot()
    assert served.result("getSlot", CONFIRMED) >= slot + 2
    info = served.result("getEpochInfo", CONFIRMED)
    assert (
        info["absoluteSlot"] >= slot + 2 and info["slotsInEpoch"] == 432_000 and info["transactionCount"] > 0
    )
    fresh = Keypair().pubkey()
    signature = served.result("requestAirdrop", str(fresh), 5 * 10**9)
    assert served.result("getSignatureStatuses", [signature])["value"][0]["err"] is None
    assert served.result("getBalance", str(fresh), CONFIRMED)["value"] == 5 * 10**9
    assert served.raw("requestAirdrop", str(fresh), 0)["error"]["code"] == -32602
    assert served.raw("noSuchMethod")["error"] == {"code": -32601, "message": "Method not found"}

    parse = HTTP.post(
        served.rpc_url, content=b"{not json", headers={"content-type": "application/json"}
    ).json()
    assert parse["error"]["code"] == -32700
    batch = HTTP.post(
        served.rpc_url,
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
            {"jsonrpc": "2.0", "id": 2, "method": "getHealth"},
        ],
    ).json()
    assert [r["id"] for r in batch] == [1, 2] and batch[1]["result"] == "ok"
    assert HTTP.get(served.rpc_url + "/health").text == "ok"


def test_concurrent_clients_are_served_safely(served: Served) -> None:
    """Eight clients send transfers at once; every one lands exactly once."""
    receiver = Keypair().pubkey()
    senders = [Keypair() for _ in range(8)]
    for s in senders:
        served.result("requestAirdrop", str(s.pubkey()), 10**9)

    async def sender(client: AsyncClient, kp: Keypair, index: int) -> list:
        signatures = []
        for i in range(10):
            blockhash = (await client.get_latest_blockhash()).value.blockhash
            ix = transfer(
                TransferParams(
                    from_pubkey=kp.pubkey(), to_pubkey=receiver, lamports=1_000_000 + index * 10 + i
                )
            )
            tx = Transaction([kp], Message([ix], kp.pubkey()), blockhash)
            signatures.append((await client.send_transaction(tx)).value)
        return signatures

    async def go() -> None:
        clients = [AsyncClient(served.rpc_url, commitment=Confirmed) for _ in senders]
        results = await asyncio.gather(
            *(sender(c, kp, i) for i, (c, kp) in enumerate(zip(clients, senders, strict=True)))
        )
        signatures = [s for batch in results for s in batch]
        statuses = (await clients[0].get_signature_statuses(signatures)).value
        assert all(st is not None and st.err is None for st in statuses)
        for c in clients:
            await c.close()

    run(go())
    expected = sum(1_000_000 + index * 10 + i for index in range(8) for i in range(10))
    assert served.result("getBalance", str(receiver), CONFIRMED)["value"] == expected


def test_finalized_reads_see_only_what_is_committed(held: Served) -> None:
    """On a held clock nothing is committed until the test says so: reads at ``finalized`` (the
    default) show the state on disk, at ``confirmed`` the state after the transaction."""
    payer, to = held.keypair("client-1"), Keypair().pubkey()
    final_slot = held.result("getSlot")
    tx = _transfer(
        held, payer, to, 10**9, blockhash=held.result("getLatestBlockhash", CONFIRMED)["value"]["blockhash"]
    )
    signature = held.result("sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"})
    assert held.result("getBalance", str(to), CONFIRMED)["value"] == 10**9
    assert held.result("getBalance", str(to))["value"] == 0
    assert held.result("getAccountInfo", str(to))["value"] is None
    assert held.result("getMultipleAccounts", [str(to)])["value"] == [None]
    assert held.result("getTransaction", signature) is None  # not final yet
    assert held.result("getTransaction", signature, CONFIRMED)["slot"] >= final_slot
    assert held.result("getSignaturesForAddress", str(to)) == []
    system = "11111111111111111111111111111111"

    def owned(config: dict) -> set[str]:
        return {
            a["pubkey"] for a in held.result("getProgramAccounts", system, {"encoding": "base64", **config})
        }

    assert str(to) in owned(CONFIRMED) and str(to) not in owned({})
    assert held.result("getSlot") == final_slot
    held.commit()
    assert str(to) in owned({})
    assert held.result("getBalance", str(to))["value"] == 10**9
    assert held.result("getTransaction", signature)["slot"] > final_slot - 1
    assert [s["signature"] for s in held.result("getSignaturesForAddress", str(to))] == [signature]
    assert held.result("getSlot") > final_slot
