"""What the local chain keeps of a landed transaction: its history record.

A record is JSON-ready and holds what ``getTransaction``, ``getBlock`` and notifications need:
slot and block time, the raw transaction, error, logs, fee, SOL balances, SPL Token balances,
inner instructions (CPIs), return data and compute units. It is built once, when the
transaction runs, from the accounts before and after.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Sequence
from typing import Any

import based58
from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_node.localnet.encoding import TOKEN_PROGRAMS, amount_json

LAMPORTS_PER_SIGNATURE = 5_000


def token_balance(
    index: int, account: Account | None, decimals_of: Callable[[Pubkey], int | None]
) -> dict[str, Any] | None:
    """The ``preTokenBalances``/``postTokenBalances`` entry of an SPL Token account, or None."""
    if account is None or account.owner not in TOKEN_PROGRAMS or account.lamports == 0:
        return None
    data = bytes(account.data)
    if len(data) < 165 or data[108] == 0 or (len(data) > 165 and data[165] != 2):
        return None  # not an initialized token account (a mint, or uninitialized)
    mint = Pubkey.from_bytes(data[:32])
    decimals = decimals_of(mint)
    if decimals is None:
        return None
    return {
        "accountIndex": index,
        "mint": str(mint),
        "owner": str(Pubkey.from_bytes(data[32:64])),
        "programId": str(account.owner),
        "uiTokenAmount": amount_json(struct.unpack_from("<Q", data, 64)[0], decimals),
    }


def inner_instructions(metadata: Any) -> list[dict[str, Any]]:
    """The CPIs of each top-level instruction, in the JSON ``innerInstructions`` shape."""
    found = []
    for index, inner in enumerate(metadata.inner_instructions()):
        if not inner:
            continue
        compiled = []
        for item in inner:
            ix = item.instruction()
            stack = json.loads(item.to_json()).get("stack_height")
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
    pre: Sequence[Account | None],
    post: Sequence[Account | None],
    decimals_of: Callable[[Pubkey], int | None],
) -> dict[str, Any]:
    """The history record of a landed transaction (``err`` already in its JSON shape)."""
    record: dict[str, Any] = {
        "slot": slot,
        "blockTime": block_time,
        "tx": base64.b64encode(bytes(vtx)).decode(),
        "err": err,
        "logs": list(metadata.logs()),
        "fee": LAMPORTS_PER_SIGNATURE * len(vtx.signatures),
        "preBalances": [a.lamports if a else 0 for a in pre],
        "postBalances": [a.lamports if a else 0 for a in post],
        "preTokenBalances": [b for i, a in enumerate(pre) if (b := token_balance(i, a, decimals_of))],
        "postTokenBalances": [b for i, a in enumerate(post) if (b := token_balance(i, a, decimals_of))],
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
