"""What the local chain keeps of a landed transaction: its history record.

A record is JSON-ready and holds what ``getTransaction``, ``getBlock`` and notifications need:
slot and block time, the raw transaction, error, logs, fee, SOL balances, the SPL Token accounts
(mint, owner, amount) before and after, inner instructions (CPIs), return data and compute
units. It is built once, when the transaction runs, and kept compact; the JSON shapes of token
balances are made when read (:func:`token_balances`).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Sequence
from typing import Any

import based58
from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_node.localnet.encoding import amount_json

LAMPORTS_PER_SIGNATURE = 5_000


def _token_state(index: int, account: Account | None) -> list[Any] | None:
    """What a record keeps of an SPL Token account: ``[index, program, base64(mint, owner,
    amount)]`` (the JSON shape is built when read: :func:`token_balances`)."""
    if account is None or account.lamports == 0:
        return None
    data = bytes(account.data)
    if len(data) < 165 or data[108] == 0 or (len(data) > 165 and data[165] != 2):
        return None  # not an initialized token account (a mint, or uninitialized)
    return [index, str(account.owner), base64.b64encode(data[:72]).decode()]


def token_balances(
    kept: list[list[Any]], decimals_of: Callable[[Pubkey], int | None]
) -> list[dict[str, Any]]:
    """The ``preTokenBalances``/``postTokenBalances`` entries of a record's token accounts."""
    found = []
    for index, program, raw in kept:
        data = base64.b64decode(raw)
        mint = Pubkey.from_bytes(data[:32])
        decimals = decimals_of(mint)
        if decimals is None:
            continue
        found.append(
            {
                "accountIndex": index,
                "mint": str(mint),
                "owner": str(Pubkey.from_bytes(data[32:64])),
                "programId": program,
                "uiTokenAmount": amount_json(struct.unpack_from("<Q", data, 64)[0], decimals),
            }
        )
    return found


def inner_instructions(metadata: Any) -> list[dict[str, Any]]:
    """The CPIs of each top-level instruction, in the JSON ``innerInstructions`` shape."""
    found = []
    for index, inner in enumerate(metadata.inner_instructions()):
        if not inner:
            continue
        compiled = []
        for item in inner:
            ix = item.instruction()
            stack = bytes(item)[-1]  # serialized last: the stack height (u8)
            compiled.append(
                {
                    "accounts": list(ix.accounts),
                    "data": based58.b58encode(bytes(ix.data)).decode(),
                    "programIdIndex": ix.program_id_index,
                    "stackHeight": stack,
                }
            )
        found.append({"index": index, "instructions": compiled})
    return found


def build_record(
    vtx: VersionedTransaction,
    *,
    slot: int,
    block_time: int,
    err: Any,
    metadata: Any,
    balances: tuple[Sequence[int], Sequence[int]],
    tokens: tuple[dict[int, Account | None], dict[int, Account | None]],
) -> dict[str, Any]:
    """The history record of a landed transaction (``err`` already in its JSON shape), from the
    SOL balances of its accounts before and after, and its SPL Token accounts (by index) before
    and after."""
    pre_tokens, post_tokens = tokens
    record: dict[str, Any] = {
        "slot": slot,
        "blockTime": block_time,
        "tx": base64.b64encode(bytes(vtx)).decode(),
        "err": err,
        "logs": list(metadata.logs()),
        "fee": LAMPORTS_PER_SIGNATURE * len(vtx.signatures),
        "preBalances": list(balances[0]),
        "postBalances": list(balances[1]),
        "tokens": [
            [kept for i, a in pre_tokens.items() if (kept := _token_state(i, a))],
            [kept for i, a in post_tokens.items() if (kept := _token_state(i, a))],
        ],
        "innerInstructions": inner_instructions(metadata),
        "computeUnits": metadata.compute_units_consumed(),
    }
    returned = metadata.return_data()
    if returned is not None and bytes(returned.data):
        record["returnData"] = {
            "programId": str(returned.program_id),
            "data": [base64.b64encode(bytes(returned.data)).decode(), "base64"],
        }
    return record
