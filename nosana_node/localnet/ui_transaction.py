"""Landed transactions as ``getTransaction`` and ``getBlock`` render them.

Encodings: ``json`` (account keys as addresses, instructions with indexes), ``jsonParsed``
(account keys as ``{pubkey, signer, writable, source}``, instructions parsed where Solana parses
them, addresses elsewhere; inner instructions too), ``base64`` and ``base58``. The ``meta``
object carries fee, balances, SPL Token balances, inner instructions, logs, return data and
compute units (see :mod:`.records`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import based58
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_node.localnet.encoding import RpcError
from nosana_node.localnet.parsed import parse_instruction
from nosana_node.localnet.records import token_balances

ENCODINGS = ("json", "jsonParsed", "base64", "base58")


def transaction_version(raw: bytes) -> str | int:
    """``"legacy"`` or the version number of a serialized transaction."""
    return 0 if isinstance(VersionedTransaction.from_bytes(raw).message, MessageV0) else "legacy"


def _writable(message: Any, index: int) -> bool:
    header = message.header
    signed = header.num_required_signatures
    if index < signed:
        return index < signed - header.num_readonly_signed_accounts
    return index < len(message.account_keys) - header.num_readonly_unsigned_accounts


def _instruction_json(ix: Any, stack_height: int | None = None) -> dict[str, Any]:
    return {
        "accounts": list(ix.accounts),
        "data": based58.b58encode(bytes(ix.data)).decode(),
        "programIdIndex": ix.program_id_index,
        "stackHeight": stack_height,
    }


def _parsed(keys: list[Pubkey], program_index: int, accounts: list[int], data: bytes, height: Any) -> Any:
    addresses = [str(keys[i]) for i in accounts if i < len(keys)]
    return parse_instruction(keys[program_index], data, addresses, height)


def encode_transaction(raw: bytes, encoding: str) -> Any:
    """The ``transaction`` field in ``encoding``."""
    if encoding == "base64":
        return [base64.b64encode(raw).decode(), "base64"]
    if encoding == "base58":
        return [based58.b58encode(raw).decode(), "base58"]
    if encoding not in ENCODINGS:
        raise RpcError(-32602, f"Invalid params: unknown encoding {encoding!r}")
    tx = VersionedTransaction.from_bytes(raw)
    message = tx.message
    header = message.header
    keys = list(message.account_keys)
    ui: dict[str, Any]
    if encoding == "jsonParsed":
        ui = {
            "accountKeys": [
                {
                    "pubkey": str(k),
                    "signer": i < header.num_required_signatures,
                    "source": "transaction",
                    "writable": _writable(message, i),
                }
                for i, k in enumerate(keys)
            ],
            "instructions": [
                _parsed(keys, ix.program_id_index, list(ix.accounts), bytes(ix.data), None)
                for ix in message.instructions
            ],
            "recentBlockhash": str(message.recent_blockhash),
        }
    else:
        ui = {
            "accountKeys": [str(k) for k in keys],
            "header": {
                "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
                "numRequiredSignatures": header.num_required_signatures,
            },
            "instructions": [_instruction_json(ix) for ix in message.instructions],
            "recentBlockhash": str(message.recent_blockhash),
        }
    if isinstance(message, MessageV0):
        ui["addressTableLookups"] = [
            {
                "accountKey": str(lookup.account_key),
                "readonlyIndexes": list(lookup.readonly_indexes),
                "writableIndexes": list(lookup.writable_indexes),
            }
            for lookup in message.address_table_lookups
        ]
    return {"message": ui, "signatures": [str(s) for s in tx.signatures]}


def encode_meta(
    record: dict[str, Any], raw: bytes, encoding: str, decimals_of: Callable[[Pubkey], int | None]
) -> dict[str, Any]:
    """The ``meta`` field of a landed transaction."""
    pre_tokens, post_tokens = record.get("tokens", ([], []))
    err = record["err"]
    inner = record.get("innerInstructions", [])
    if encoding == "jsonParsed":
        keys = list(VersionedTransaction.from_bytes(raw).message.account_keys)
        inner = [
            {
                "index": group["index"],
                "instructions": [
                    _parsed(
                        keys,
                        ix["programIdIndex"],
                        ix["accounts"],
                        based58.b58decode(ix["data"].encode()),
                        ix["stackHeight"],
                    )
                    for ix in group["instructions"]
                ],
            }
            for group in inner
        ]
    meta: dict[str, Any] = {
        "computeUnitsConsumed": record["computeUnits"],
        "err": err,
        "fee": record["fee"],
        "innerInstructions": inner,
        "logMessages": record["logs"],
        "postBalances": record["postBalances"],
        "postTokenBalances": token_balances(post_tokens, decimals_of),
        "preBalances": record["preBalances"],
        "preTokenBalances": token_balances(pre_tokens, decimals_of),
        "rewards": [],
        "status": {"Ok": None} if err is None else {"Err": err},
    }
    if encoding != "jsonParsed":
        meta["loadedAddresses"] = {"readonly": [], "writable": []}
    if "returnData" in record:
        meta["returnData"] = record["returnData"]
    return meta


def check_version(raw: bytes, max_version: Any) -> str | int:
    """The transaction's version, or -32015 when the client does not accept it."""
    version = transaction_version(raw)
    if version != "legacy" and (max_version is None or max_version < version):
        raise RpcError(
            -32015,
            f"Transaction version ({version}) is not supported by the requesting client. "
            "Please try the request again with the following configuration parameter: "
            f'"maxSupportedTransactionVersion": {version}',
        )
    return version


def transaction_with_meta(
    record: dict[str, Any], encoding: str, max_version: Any, decimals_of: Callable[[Pubkey], int | None]
) -> dict[str, Any]:
    """``{"transaction", "meta"[, "version"]}`` of a record, as getTransaction and getBlock give
    it (``decimals_of`` gives a mint's decimals, for token balances)."""
    raw = base64.b64decode(record["tx"])
    version = check_version(raw, max_version)
    meta = encode_meta(record, raw, encoding, decimals_of)
    found = {"meta": meta, "transaction": encode_transaction(raw, encoding)}
    if max_version is not None:
        found["version"] = version
    return found
