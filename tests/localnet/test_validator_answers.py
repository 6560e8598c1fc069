"""The local market answers as a validator does: bad transactions and parameters refused with
Solana's codes before anything runs, strict JSON whatever comes in, ``jsonParsed`` transactions,
address history, blocks, and the program's custom errors. One market in its own process."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, CompiledInstruction, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account

from nosana_node.chain.addresses import MAINNET, SYSTEM_PROGRAM, TOKEN_PROGRAM
from nosana_node.chain.transactions import finish, list_job, work
from tests.localnet.conftest import HTTP, run, wait_finalized
from tests.localnet.process import Market, market_process

CONFIRMED = {"commitment": "confirmed"}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    with market_process(tmp_path_factory.mktemp("answers") / "ledger") as served:
        yield served


def _strict(text: str) -> Any:
    """JSON as a strict parser reads it: ``NaN`` or ``Infinity`` would fail here."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in an answer")

    return json.loads(text, parse_constant=refuse)


def _post(market: Market, body: bytes | str) -> Any:
    answer = HTTP.post(market.rpc_url, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text[:200]
    return _strict(answer.text)


def _blockhash(market: Market) -> Hash:
    return Hash.from_string(market.result("getLatestBlockhash", CONFIRMED)["value"]["blockhash"])


def _encoded(tx: Transaction | VersionedTransaction | bytes) -> str:
    return base64.b64encode(tx if isinstance(tx, bytes) else bytes(tx)).decode()


def _send(market: Market, tx: Transaction | VersionedTransaction | bytes, **config: Any) -> dict:
    return market.raw("sendTransaction", _encoded(tx), {"encoding": "base64", **config})


def _balance(market: Market, key: Pubkey) -> int:
    return market.result("getBalance", str(key), CONFIRMED)["value"]


def test_bad_transactions_are_refused_before_they_run(market: Market) -> None:
    payer, other = market.keypair("client-1"), Keypair()
    before = _balance(market, payer.pubkey())
    blockhash = _blockhash(market)
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=other.pubkey(), lamports=10**6))
    # an account key listed twice
    keys = [payer.pubkey(), other.pubkey(), other.pubkey(), SYSTEM_PROGRAM]
    twice = Message.new_with_compiled_instructions(
        1, 0, 1, keys, blockhash, [CompiledInstruction(3, bytes(transfer_data(10**6)), bytes([0, 1]))]
    )
    signed = VersionedTransaction.populate(twice, [payer.sign_message(bytes(twice))])
    refused = _send(market, signed)["error"]
    assert refused["code"] == -32602 and "Account loaded twice" in refused["message"]
    # larger than a packet
    padding = Instruction(SYSTEM_PROGRAM, bytes(1300), [AccountMeta(payer.pubkey(), True, True)])
    big = Transaction([payer], Message([ix, padding], payer.pubkey()), blockhash)
    refused = _send(market, big)["error"]
    assert refused["code"] == -32602 and "too large" in refused["message"]
    # no signatures, and too few
    unsigned = VersionedTransaction.populate(Message([ix], payer.pubkey()), [])
    assert _send(market, unsigned)["error"]["code"] == -32602
    two = Message(
        [ix, transfer(TransferParams(from_pubkey=other.pubkey(), to_pubkey=payer.pubkey(), lamports=1))],
        payer.pubkey(),
    )
    one_of_two = VersionedTransaction.populate(two, [payer.sign_message(bytes(two))])
    assert _send(market, one_of_two)["error"]["code"] == -32602
    no_signer = Message.new_with_compiled_instructions(
        0, 0, 1, [payer.pubkey(), SYSTEM_PROGRAM], blockhash, []
    )
    assert _send(market, VersionedTransaction.populate(no_signer, []))["error"]["code"] == -32602
    assert _balance(market, payer.pubkey()) == before  # nothing ran, no fee was paid


def transfer_data(lamports: int) -> bytes:
    """The System program's transfer instruction data."""
    return (2).to_bytes(4, "little") + lamports.to_bytes(8, "little")


def test_bad_parameters_answer_minus_32602_and_slots_ahead_minus_32016(market: Market) -> None:
    address = str(market.keypair("client-1").pubkey())
    slot = market.result("getSlot", CONFIRMED)
    ahead = market.raw("getBalance", address, {"minContextSlot": slot + 10_000})["error"]
    assert ahead["code"] == -32016 and ahead["data"]["contextSlot"] >= 0
    assert market.raw("getSlot", {"minContextSlot": slot + 10_000})["error"]["code"] == -32016
    assert "result" in market.raw("getSlot", {"minContextSlot": 0, **CONFIRMED})
    for method, params in [
        ("getBalance", [address, {"commitment": "bogus"}]),
        ("getBalance", []),
        ("getSlot", [{}, 1, 2]),
        ("getHealth", [1]),
        ("getMinimumBalanceForRentExemption", [-1]),
        ("getMinimumBalanceForRentExemption", [2**70]),
        ("getMinimumBalanceForRentExemption", [True]),
        ("getBlock", [-5]),
        ("getBlock", [2**64]),
        ("requestAirdrop", [address, 2**70]),
        ("requestAirdrop", [address, -1]),
        ("getSignaturesForAddress", [address, {"limit": 0}]),
        ("getSignaturesForAddress", [address, {"limit": 1001}]),
        ("getTransaction", [str(Keypair().sign_message(b"x")), {"commitment": "processed"}]),
        ("getAccountInfo", [address, {"minContextSlot": -1}]),
        ("getAccountInfo", [address, "base64"]),
    ]:
        answer = market.raw(method, *params)
        assert answer.get("error", {}).get("code") == -32602, (method, params, answer)


def test_malformed_requests_get_an_error_never_invalid_json(market: Market) -> None:
    for rid in ([1], {"a": 1}, 1.5, True, -1, 2**64):
        answer = _post(market, json.dumps({"jsonrpc": "2.0", "id": rid, "method": "getSlot"}))
        assert answer["error"]["code"] == -32600 and answer["id"] is None, rid
    for body in (
        '{"jsonrpc":"2.0","id":1,"method":"getMinimumBalanceForRentExemption","params":[NaN]}',
        '{"jsonrpc":"2.0","id":1,"method":"getMinimumBalanceForRentExemption","params":[Infinity]}',
        '{"jsonrpc":"2.0","id":1,"method":"getMinimumBalanceForRentExemption","params":[1e999]}',
        "[" * 20_000 + "]" * 20_000,  # deep nesting
        '{"jsonrpc":"2.0","id":1,"method":"getSlot"',
    ):
        assert _post(market, body)["error"]["code"] == -32700, body[:40]
    assert _post(market, '{"jsonrpc":"2.0","id":"x","method":"nope"}') == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "Method not found"},
        "id": "x",
    }
    batch = _post(market, json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, 5]))
    assert batch[0]["result"] == "ok" and batch[1]["error"]["code"] == -32600


def _job_cycle(market: Market, priced: bool, node_name: str = "node-1") -> tuple[str, str, Pubkey, Pubkey]:
    """list and work on a genesis market by client-1 and ``node_name``: (list signature, work
    signature, job, run)."""
    info = market.summary["markets"][1 if priced else 0]
    wallets = {w["name"]: w for w in market.summary["wallets"]}
    client, node = market.keypair("client-1"), market.keypair(node_name)
    address, vault = Pubkey.from_string(info["address"]), Pubkey.from_string(info["vault"])
    job, run_kp = Keypair(), Keypair()
    ix = list_job(
        MAINNET, address, vault, client.pubkey(), Pubkey.from_string(wallets["client-1"]["nos_account"]),
        job=job.pubkey(), run=run_kp.pubkey(), ipfs_job=bytes(range(32)), timeout=600,
    )  # fmt: skip
    listed = _send(
        market, Transaction([client, job, run_kp], Message([ix], client.pubkey()), _blockhash(market))
    )
    ix = work(
        MAINNET, address, node.pubkey(), Pubkey.from_string(wallets[node_name]["stake"]), run=run_kp.pubkey()
    )
    worked = _send(market, Transaction([node, run_kp], Message([ix], node.pubkey()), _blockhash(market)))
    return listed["result"], worked["result"], job.pubkey(), run_kp.pubkey()


def test_get_transaction_json_parsed_has_the_shapes_clients_read(market: Market) -> None:
    payer, to = market.keypair("client-1"), Keypair().pubkey()
    tx = Transaction(
        [payer],
        Message(
            [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=10**6))],
            payer.pubkey(),
        ),
        _blockhash(market),
    )
    signature = _send(market, tx)["result"]
    got = market.result("getTransaction", signature, {"encoding": "jsonParsed", **CONFIRMED})
    message = got["transaction"]["message"]
    assert message["accountKeys"] == [
        {"pubkey": str(payer.pubkey()), "signer": True, "source": "transaction", "writable": True},
        {"pubkey": str(to), "signer": False, "source": "transaction", "writable": True},
        {"pubkey": str(SYSTEM_PROGRAM), "signer": False, "source": "transaction", "writable": False},
    ]
    assert message["instructions"] == [
        {
            "parsed": {
                "info": {"destination": str(to), "lamports": 10**6, "source": str(payer.pubkey())},
                "type": "transfer",
            },
            "program": "system",
            "programId": str(SYSTEM_PROGRAM),
            "stackHeight": None,
        }
    ]
    assert got["meta"]["innerInstructions"] == [] and got["meta"]["status"] == {"Ok": None}
    # a priced job: the program's instruction by address, its CPIs parsed, token balances
    listed, _, job, _ = _job_cycle(market, priced=True)
    got = market.result("getTransaction", listed, {"encoding": "jsonParsed", **CONFIRMED})
    top = got["transaction"]["message"]["instructions"][0]
    assert top["programId"] == str(MAINNET.jobs_program) and isinstance(top["data"], str)
    assert top["accounts"][0] == str(job) and "parsed" not in top
    inner = [ix for group in got["meta"]["innerInstructions"] for ix in group["instructions"]]
    kinds = {(ix.get("program"), ix.get("parsed", {}).get("type")) for ix in inner}
    assert {("system", "createAccount"), ("spl-token", "transfer")} <= kinds
    deposit = next(ix for ix in inner if ix.get("program") == "spl-token")["parsed"]["info"]
    price = 1_000  # the priced genesis market: NOS base units per second
    assert deposit["amount"] == str(price * 600) and deposit["authority"] == str(
        market.keypair("client-1").pubkey()
    )
    pre = {b["accountIndex"]: b for b in got["meta"]["preTokenBalances"]}
    post = {b["accountIndex"]: b for b in got["meta"]["postTokenBalances"]}
    assert set(pre) == set(post) and len(pre) == 2
    moved = {i: int(post[i]["uiTokenAmount"]["amount"]) - int(pre[i]["uiTokenAmount"]["amount"]) for i in pre}
    assert sorted(moved.values()) == [-price * 600, price * 600]
    assert all(
        b["mint"] == str(MAINNET.nos_mint) and b["programId"] == str(TOKEN_PROGRAM) for b in pre.values()
    )
    # an associated token account, parsed as Solana parses it
    owner = Keypair().pubkey()
    ata_ix = create_idempotent_associated_token_account(payer.pubkey(), owner, MAINNET.nos_mint)
    signature = _send(market, Transaction([payer], Message([ata_ix], payer.pubkey()), _blockhash(market)))[
        "result"
    ]
    got = market.result("getTransaction", signature, {"encoding": "jsonParsed", **CONFIRMED})
    parsed = got["transaction"]["message"]["instructions"][0]
    assert (
        parsed["program"] == "spl-associated-token-account" and parsed["parsed"]["type"] == "createIdempotent"
    )
    assert parsed["parsed"]["info"]["wallet"] == str(owner) and parsed["parsed"]["info"]["mint"] == str(
        MAINNET.nos_mint
    )
    plain = market.result("getTransaction", signature, {"encoding": "json", **CONFIRMED})
    assert plain["meta"]["innerInstructions"][0]["instructions"][0]["programIdIndex"] >= 0
    assert plain["meta"]["loadedAddresses"] == {"readonly": [], "writable": []}


def test_signatures_for_address_and_blocks(market: Market) -> None:
    payer, wallet = market.keypair("client-2"), Keypair()
    signatures = []
    for lamports in (3 * 10**6, 10**6, 2 * 10**6):
        ix = transfer(
            TransferParams(from_pubkey=payer.pubkey(), to_pubkey=wallet.pubkey(), lamports=lamports)
        )
        tx = Transaction([payer], Message([ix], payer.pubkey()), _blockhash(market))
        signatures.append(_send(market, tx)["result"])
    newest_first = signatures[::-1]
    address = str(wallet.pubkey())

    def listed(**config: Any) -> list[str]:
        return [
            s["signature"] for s in market.result("getSignaturesForAddress", address, {**CONFIRMED, **config})
        ]

    assert listed() == newest_first
    assert listed(limit=2) == newest_first[:2]
    assert listed(before=newest_first[0]) == newest_first[1:]
    assert listed(until=newest_first[2]) == newest_first[:2]
    run(wait_finalized(market.ws_url, signatures[-1]))
    found = market.result("getSignaturesForAddress", address)  # finalized, from the ledger
    assert [s["signature"] for s in found] == newest_first
    assert {s["confirmationStatus"] for s in found} == {"finalized"} and all(s["err"] is None for s in found)
    got = market.result("getTransaction", signatures[-1])
    block = market.result("getBlock", got["slot"], {"maxSupportedTransactionVersion": 0})
    assert signatures[-1] in [t["transaction"]["signatures"][0] for t in block["transactions"]]
    assert block["blockTime"] == got["blockTime"] and block["blockHeight"] == got["slot"]
    assert block["parentSlot"] < got["slot"] and block["rewards"] == []
    parent = market.raw("getBlock", block["parentSlot"])
    if "result" in parent:  # a slot with no block in between is skipped (-32007), as on Solana
        assert parent["result"]["blockhash"] == block["previousBlockhash"]
    else:
        assert parent["error"]["code"] == -32007
    only = market.result("getBlock", got["slot"], {"transactionDetails": "signatures", "rewards": False})
    assert signatures[-1] in only["signatures"] and "rewards" not in only and "transactions" not in only
    assert market.result("getBlockTime", got["slot"]) == got["blockTime"]
    future = market.raw("getBlock", got["slot"] + 100_000)["error"]
    assert future["code"] == -32004


def test_the_programs_errors_reach_clients_by_name(market: Market) -> None:
    _, worked, job, run_account = _job_cycle(market, priced=False)
    market.result("getTransaction", worked, CONFIRMED)
    wallets = {w["name"]: w for w in market.summary["wallets"]}
    info = market.summary["markets"][0]
    stranger = market.keypair("node-2")  # not the node of this run
    deposit = Pubkey.from_string(wallets["client-1"]["nos_account"])
    ix = finish(
        MAINNET, job=job, run=run_account, market=Pubkey.from_string(info["address"]),
        vault=Pubkey.from_string(info["vault"]), deposit=deposit,
        node=stranger.pubkey(), node_nos=Pubkey.from_string(wallets["node-2"]["nos_account"]),
        payer_run=market.keypair("node-1").pubkey(), payer_job=market.keypair("client-1").pubkey(),
        ipfs_result=bytes(range(1, 33)),
    )  # fmt: skip
    refused = _send(market, Transaction([stranger], Message([ix], stranger.pubkey()), _blockhash(market)))[
        "error"
    ]
    assert refused["code"] == -32002
    assert refused["message"].endswith("custom program error: 0x17d4")  # 6100
    assert refused["data"]["err"] == {"InstructionError": [0, {"Custom": 6100}]}
    assert any("Error Code: Unauthorized. Error Number: 6100." in line for line in refused["data"]["logs"])
