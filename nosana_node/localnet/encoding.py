"""Solana JSON-RPC encodings: accounts, transactions and their parameters.

Shapes follow Solana's API: an account is ``{"data", "executable", "lamports", "owner",
"rentEpoch", "space"}`` with ``data`` as ``[text, "base64"]``, ``[text, "base58"]`` or, for SPL
Token accounts and mints under ``jsonParsed``, the parsed object; a transaction renders as
``json`` (signatures and a raw message) or as ``[text, "base64"|"base58"]``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import based58
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from nosana_node.chain.addresses import TOKEN_PROGRAM

TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS5EL9S9M2hHyDAUk3uUi2D")
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
RENT_EPOCH = 2**64 - 1  # what validators report for rent-exempt accounts
MAX_BASE58_BYTES = 128  # Solana refuses base58 for longer data


class RpcError(Exception):
    """A JSON-RPC error: code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(detail: str) -> RpcError:
    """-32602, as validators word it."""
    return RpcError(-32602, f"Invalid params: {detail}")


# -- parameters ------------------------------------------------------------------------------------
def pubkey_param(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except (ValueError, TypeError):
        raise RpcError(-32602, f"Invalid param: {value!r} is not a base58 public key") from None


def signature_param(value: Any) -> Signature:
    try:
        return Signature.from_string(value)
    except (ValueError, TypeError):
        raise RpcError(-32602, f"Invalid param: {value!r} is not a base58 signature") from None


def hash_param(value: Any) -> Hash:
    try:
        return Hash.from_string(value)
    except (ValueError, TypeError):
        raise RpcError(-32602, f"Invalid param: {value!r} is not a base58 hash") from None


def decode_binary(text: Any, encoding: str) -> bytes:
    """Bytes from a ``base58`` or ``base64`` parameter."""
    if not isinstance(text, str):
        raise invalid_params("expected an encoded string")
    try:
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
        if encoding == "base58":
            return based58.b58decode(text.encode())
    except ValueError:
        raise RpcError(-32602, f"invalid {encoding} encoding") from None
    raise RpcError(-32602, f"unsupported encoding: {encoding}; use base58 or base64")


#: Solana's packet size: the largest serialized transaction, and its encoded lengths.
PACKET_DATA_SIZE = 1232
_MAX_ENCODED = {"base58": 1683, "base64": 1644}
_TX_TYPE = "solana_transaction::versioned::VersionedTransaction"


def decode_transaction(text: Any, encoding: str) -> VersionedTransaction:
    """A transaction parameter, refused (-32602) as a validator refuses it before execution:
    too long, undecodable, not sanitary (bad header or indexes, no or too few signatures), or
    with an account key listed twice."""
    if encoding not in _MAX_ENCODED:
        raise RpcError(-32602, f"unsupported encoding: {encoding}. Supported encodings: base58, base64")
    if isinstance(text, str) and len(text) > _MAX_ENCODED[encoding]:
        raise RpcError(
            -32602,
            f"{encoding} encoded {_TX_TYPE} too large: {len(text)} bytes "
            f"(max: encoded/raw {_MAX_ENCODED[encoding]}/{PACKET_DATA_SIZE})",
        )
    raw = decode_binary(text, encoding)
    if len(raw) > PACKET_DATA_SIZE:
        raise RpcError(
            -32602, f"decoded {_TX_TYPE} too large: {len(raw)} bytes (max: {PACKET_DATA_SIZE} bytes)"
        )
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise RpcError(-32602, f"failed to deserialize {_TX_TYPE}: {exc}") from None
    try:
        tx.sanitize()
        sane = len(tx.signatures) == tx.message.header.num_required_signatures
    except Exception:  # solders.SanitizeError
        sane = False
    if not sane:
        raise RpcError(
            -32602, "invalid transaction: Transaction failed to sanitize accounts offsets correctly"
        )
    keys = list(tx.message.account_keys)
    if len(set(keys)) != len(keys):
        raise RpcError(-32602, "invalid transaction: Account loaded twice")
    return tx


# -- accounts --------------------------------------------------------------------------------------
def amount_json(amount: int, decimals: int) -> dict[str, Any]:
    text = str(amount)
    if decimals:
        whole, frac = divmod(amount, 10**decimals)
        text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": amount / 10**decimals,
        "uiAmountString": text,
    }


def token_amount(data: bytes, decimals_of: Callable[[Pubkey], int | None]) -> dict[str, Any] | None:
    """``{"amount", "decimals", "uiAmount", "uiAmountString"}`` of a token account, or None."""
    if len(data) < 165:
        return None
    decimals = decimals_of(Pubkey.from_bytes(data[:32]))
    if decimals is None:
        return None
    return amount_json(struct.unpack_from("<Q", data, 64)[0], decimals)


def mint_decimals(account: Account | None) -> int | None:
    """Decimals of a mint account (None if it is not one)."""
    if account is None or account.owner not in TOKEN_PROGRAMS or len(account.data) < 82:
        return None
    return bytes(account.data)[44]


def _coption_key(data: bytes, at: int) -> str | None:
    return str(Pubkey.from_bytes(data[at + 4 : at + 36])) if data[at : at + 4] == b"\1\0\0\0" else None


def parse_token(account: Account, decimals_of: Callable[[Pubkey], int | None]) -> dict[str, Any] | None:
    """SPL Token ``jsonParsed`` data of a token account or a mint, or None."""
    data = bytes(account.data)
    program = "spl-token" if account.owner == TOKEN_PROGRAM else "spl-token-2022"
    if len(data) == 82 or (account.owner == TOKEN_2022_PROGRAM and len(data) > 82 and data[165:166] == b"\1"):
        info: dict[str, Any] = {
            "decimals": data[44],
            "freezeAuthority": _coption_key(data, 46),
            "isInitialized": bool(data[45]),
            "mintAuthority": _coption_key(data, 0),
            "supply": str(struct.unpack_from("<Q", data, 36)[0]),
        }
        kind = "mint"
    elif len(data) >= 165:
        amount = token_amount(data, decimals_of)
        if amount is None:
            return None
        state = {0: "uninitialized", 1: "initialized", 2: "frozen"}.get(data[108], "initialized")
        info = {
            "isNative": data[109:113] == b"\1\0\0\0",
            "mint": str(Pubkey.from_bytes(data[:32])),
            "owner": str(Pubkey.from_bytes(data[32:64])),
            "state": state,
            "tokenAmount": amount,
        }
        delegate = _coption_key(data, 72)
        if delegate:
            info["delegate"] = delegate
            info["delegatedAmount"] = amount_json(struct.unpack_from("<Q", data, 121)[0], amount["decimals"])
        kind = "account"
    else:
        return None
    return {"program": program, "parsed": {"info": info, "type": kind}, "space": len(data)}


def encode_account(
    account: Account,
    encoding: str = "base64",
    data_slice: dict[str, Any] | None = None,
    decimals_of: Callable[[Pubkey], int | None] | None = None,
) -> dict[str, Any]:
    """An account in the JSON-RPC shape (``binary`` is the legacy name of bare base58)."""
    full = bytes(account.data)
    data = full
    if data_slice:
        try:
            offset, length = int(data_slice["offset"]), int(data_slice["length"])
        except (KeyError, TypeError, ValueError):
            raise invalid_params("dataSlice needs integer offset and length") from None
        data = full[offset : offset + length]
    encoded: Any
    if encoding == "jsonParsed" and account.owner in TOKEN_PROGRAMS and not data_slice and decimals_of:
        encoded = parse_token(account, decimals_of) or [base64.b64encode(data).decode(), "base64"]
    elif encoding in ("base64", "jsonParsed"):
        encoded = [base64.b64encode(data).decode(), "base64"]
    elif encoding in ("base58", "binary"):
        if len(data) > MAX_BASE58_BYTES:
            raise RpcError(
                -32600,
                "Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.",
            )
        text = based58.b58encode(data).decode()
        encoded = text if encoding == "binary" else [text, "base58"]
    else:
        raise RpcError(-32602, f"unsupported encoding: {encoding}")
    return {
        "data": encoded,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": str(account.owner),
        "rentEpoch": RENT_EPOCH,
        "space": len(full),
    }


#: How a closed account appears in notifications.
CLOSED_ACCOUNT = Account(0, b"", Pubkey.from_string("11111111111111111111111111111111"))


# -- filters ---------------------------------------------------------------------------------------
def account_filter(filters: Any) -> Callable[[bytes], bool]:
    """A predicate on account data from ``getProgramAccounts`` filters (memcmp, dataSize)."""
    if filters is None:
        return lambda data: True
    if not isinstance(filters, list) or len(filters) > 4:
        raise invalid_params("filters must be a list of at most 4 filters")
    checks: list[Callable[[bytes], bool]] = []
    for item in filters:
        if isinstance(item, dict) and "dataSize" in item:
            size = item["dataSize"]
            if not isinstance(size, int):
                raise invalid_params("dataSize must be an integer")
            checks.append(lambda data, size=size: len(data) == size)
        elif isinstance(item, dict) and isinstance(item.get("memcmp"), dict):
            memcmp = item["memcmp"]
            offset = memcmp.get("offset")
            if not isinstance(offset, int) or offset < 0:
                raise invalid_params("memcmp offset must be a non-negative integer")
            expected = decode_binary(memcmp.get("bytes"), memcmp.get("encoding") or "base58")
            if len(expected) > 128:
                raise invalid_params("memcmp bytes longer than 128")
            checks.append(lambda data, o=offset, e=expected: data[o : o + len(e)] == e)
        else:
            raise invalid_params(f"unsupported filter {item!r}: use memcmp or dataSize")
    return lambda data: all(check(data) for check in checks)
