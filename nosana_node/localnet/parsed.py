"""``jsonParsed`` instructions: the programs Solana's RPC parses (System, SPL Token, Associated
Token Account), in its shapes; any other instruction is "partially decoded" (addresses, base58
data). An instruction whose data does not parse is partially decoded too, as Solana does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import based58
from solders.pubkey import Pubkey

from nosana_node.chain.addresses import ASSOCIATED_TOKEN_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM
from nosana_node.localnet.encoding import TOKEN_2022_PROGRAM, amount_json

Info = dict[str, Any]
Parser = Callable[[bytes, list[str]], tuple[str, Info]]


class _Reader:
    """Little-endian fields from instruction data; IndexError/struct.error when too short."""

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.at)[0]
        self.at += struct.calcsize(fmt)
        return value

    def key(self) -> str:
        raw = self.data[self.at : self.at + 32]
        if len(raw) != 32:
            raise IndexError("short key")
        self.at += 32
        return str(Pubkey.from_bytes(raw))

    def string(self) -> str:
        size = self.take("<Q")
        raw = self.data[self.at : self.at + size]
        if len(raw) != size:
            raise IndexError("short string")
        self.at += size
        return raw.decode()

    def option_key(self, tag: str = "<B") -> str | None:
        present = self.take(tag)
        value = self.key()
        return value if present else None


def _system(data: bytes, accounts: list[str]) -> tuple[str, Info]:
    r = _Reader(data, 4)
    tag = struct.unpack_from("<I", data)[0]
    if tag == 0:
        return "createAccount", {
            "source": accounts[0], "newAccount": accounts[1],
            "lamports": r.take("<Q"), "space": r.take("<Q"), "owner": r.key(),
        }  # fmt: skip
    if tag == 1:
        return "assign", {"account": accounts[0], "owner": r.key()}
    if tag == 2:
        return "transfer", {"source": accounts[0], "destination": accounts[1], "lamports": r.take("<Q")}
    if tag == 3:
        base, seed = r.key(), r.string()
        return "createAccountWithSeed", {
            "source": accounts[0], "newAccount": accounts[1], "base": base, "seed": seed,
            "lamports": r.take("<Q"), "space": r.take("<Q"), "owner": r.key(),
        }  # fmt: skip
    if tag == 8:
        return "allocate", {"account": accounts[0], "space": r.take("<Q")}
    if tag == 9:
        base, seed = r.key(), r.string()
        return "allocateWithSeed", {
            "account": accounts[0], "base": base, "seed": seed, "space": r.take("<Q"), "owner": r.key(),
        }  # fmt: skip
    if tag == 10:
        base, seed = r.key(), r.string()
        return "assignWithSeed", {"account": accounts[0], "base": base, "seed": seed, "owner": r.key()}
    if tag == 11:
        lamports, seed = r.take("<Q"), r.string()
        return "transferWithSeed", {
            "source": accounts[0], "sourceBase": accounts[1], "destination": accounts[2],
            "lamports": lamports, "sourceSeed": seed, "sourceOwner": r.key(),
        }  # fmt: skip
    raise ValueError("not parsed")


def _authority(info: Info, name: str, accounts: list[str], at: int) -> Info:
    """The signing authority, or a multisig and its signers (the accounts after it)."""
    if len(accounts) > at + 1:
        info[f"multisig{name[0].upper()}{name[1:]}"] = accounts[at]
        info["signers"] = accounts[at + 1 :]
    else:
        info[name] = accounts[at]
    return info


#: SPL Token instructions with fixed accounts, a signing authority after them, and maybe an
#: amount: tag -> (type, account names, authority name, has an amount).
_PLAIN_TOKEN: dict[int, tuple[str, tuple[str, ...], str, bool]] = {
    3: ("transfer", ("source", "destination"), "authority", True),
    4: ("approve", ("source", "delegate"), "owner", True),
    5: ("revoke", ("source",), "owner", False),
    7: ("mintTo", ("mint", "account"), "mintAuthority", True),
    8: ("burn", ("account", "mint"), "authority", True),
    9: ("closeAccount", ("account", "destination"), "owner", False),
    10: ("freezeAccount", ("account", "mint"), "freezeAuthority", False),
    11: ("thawAccount", ("account", "mint"), "freezeAuthority", False),
}


def _token(data: bytes, accounts: list[str]) -> tuple[str, Info]:
    tag, r = data[0], _Reader(data, 1)
    if tag in (0, 20):
        decimals, authority = r.take("<B"), r.key()
        freeze = r.option_key() if r.at < len(data) else None
        info: Info = {"mint": accounts[0], "decimals": decimals, "mintAuthority": authority}
        if tag == 0:
            info["rentSysvar"] = accounts[1]
        if freeze:
            info["freezeAuthority"] = freeze
        return ("initializeMint" if tag == 0 else "initializeMint2"), info
    if tag == 1:
        return "initializeAccount", {
            "account": accounts[0], "mint": accounts[1], "owner": accounts[2], "rentSysvar": accounts[3],
        }  # fmt: skip
    if tag in (16, 18):
        info = {"account": accounts[0], "mint": accounts[1], "owner": r.key()}
        if tag == 16:
            info["rentSysvar"] = accounts[2]
        return ("initializeAccount2" if tag == 16 else "initializeAccount3"), info
    if tag in _PLAIN_TOKEN:
        kind, names, signer, with_amount = _PLAIN_TOKEN[tag]
        info = dict(zip(names, accounts, strict=False))
        if with_amount:
            info["amount"] = str(r.take("<Q"))
        return kind, _authority(info, signer, accounts, len(names))
    if tag in (12, 14, 15):
        amount, decimals = r.take("<Q"), r.take("<B")
        token_amount = amount_json(amount, decimals)
        if tag == 12:
            info = {"source": accounts[0], "mint": accounts[1], "destination": accounts[2]}
            info["tokenAmount"] = token_amount
            return "transferChecked", _authority(info, "authority", accounts, 3)
        if tag == 14:
            info = {"mint": accounts[0], "account": accounts[1], "tokenAmount": token_amount}
            return "mintToChecked", _authority(info, "mintAuthority", accounts, 2)
        info = {"account": accounts[0], "mint": accounts[1], "tokenAmount": token_amount}
        return "burnChecked", _authority(info, "authority", accounts, 2)
    if tag == 17:
        return "syncNative", {"account": accounts[0]}
    raise ValueError("not parsed")


def _associated_token(data: bytes, accounts: list[str]) -> tuple[str, Info]:
    if data not in (b"", b"\0", b"\1"):
        raise ValueError("not parsed")
    names = ("source", "account", "wallet", "mint", "systemProgram", "tokenProgram")
    info = dict(zip(names, accounts, strict=False))
    if len(info) < len(names):
        raise IndexError("too few accounts")
    return ("createIdempotent" if data == b"\1" else "create"), info


PARSERS: dict[Pubkey, tuple[str, Parser]] = {
    SYSTEM_PROGRAM: ("system", _system),
    TOKEN_PROGRAM: ("spl-token", _token),
    TOKEN_2022_PROGRAM: ("spl-token-2022", _token),
    ASSOCIATED_TOKEN_PROGRAM: ("spl-associated-token-account", _associated_token),
}


def parse_instruction(
    program_id: Pubkey, data: bytes, accounts: list[str], stack_height: int | None
) -> dict[str, Any]:
    """One instruction in the ``jsonParsed`` shape."""
    found = PARSERS.get(program_id)
    if found is not None:
        name, parser = found
        try:
            kind, info = parser(data, accounts)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            pass
        else:
            return {
                "parsed": {"info": info, "type": kind},
                "program": name,
                "programId": str(program_id),
                "stackHeight": stack_height,
            }
    return {
        "accounts": accounts,
        "data": based58.b58encode(data).decode(),
        "programId": str(program_id),
        "stackHeight": stack_height,
    }
