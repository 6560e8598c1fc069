"""The Anchor IDL of the jobs program, generated from the protocol layer.

Pre-0.30 Anchor format (``isMut``/``isSigner``, ``publicKey``), which anchorpy 0.21 and
@coral-xyz/anchor 0.29 (the official Nosana SDK) read. Instructions come from
:data:`nosana_node.chain.instructions.INSTRUCTIONS`, errors from
:class:`nosana_node.chain.errors.JobsError` and ``CommonError``, account fields from the layouts in
:mod:`nosana_node.chain.accounts`. The local chain stores the IDL where Anchor clients fetch it
(:func:`idl_account_data`, at :func:`nosana_node.chain.pda.idl_address`).
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import account_discriminator
from nosana_node.chain.errors import CommonError, JobsError
from nosana_node.chain.instructions import INSTRUCTIONS, LEGACY_FINISH, Arg

IDL_VERSION = "0.1.0"
PROGRAM_NAME = "nosana_jobs"

#: Anchor's ``IdlAccount`` discriminator: ``sha256("account:IdlAccount")[:8]``.
IDL_ACCOUNT_DISCRIMINATOR = account_discriminator("IdlAccount")

_ARG_TYPES: dict[str, Any] = {
    "u8": "u8",
    "u64": "u64",
    "i64": "i64",
    "u128": "u128",
    "bytes32": {"array": ["u8", 32]},
}

_KEY = "publicKey"
_BYTES32 = {"array": ["u8", 32]}

#: Account structs in field order (the order of the Borsh encoding; see accounts.py).
ACCOUNT_FIELDS: dict[str, list[tuple[str, Any]]] = {
    "MarketAccount": [
        ("authority", _KEY),
        ("jobExpiration", "i64"),
        ("jobPrice", "u64"),
        ("jobTimeout", "i64"),
        ("jobType", "u8"),
        ("vault", _KEY),
        ("vaultBump", "u8"),
        ("nodeAccessKey", _KEY),
        ("nodeXnosMinimum", "u128"),
        ("queueType", "u8"),
        ("queue", {"vec": _KEY}),
    ],
    "JobAccount": [
        ("ipfsJob", _BYTES32),
        ("ipfsResult", _BYTES32),
        ("market", _KEY),
        ("node", _KEY),
        ("payer", _KEY),
        ("price", "u64"),
        ("project", _KEY),
        ("state", "u8"),
        ("timeEnd", "i64"),
        ("timeStart", "i64"),
        ("timeout", "i64"),
    ],
    "RunAccount": [
        ("job", _KEY),
        ("node", _KEY),
        ("payer", _KEY),
        ("state", "u8"),
        ("time", "i64"),
    ],
}

#: Enums as documented types (the accounts store them as plain u8).
ENUM_TYPES: dict[str, list[str]] = {
    "QueueType": ["Job", "Node", "Empty"],
    "JobState": ["Queued", "Running", "Done", "Stopped"],
    "JobType": ["Default", "Small", "Medium", "Large", "Gpu", "Unknown"],
}

ERROR_MESSAGES: dict[JobsError | CommonError, str] = {
    JobsError.InvalidMarketAccount: "The market account does not match the job's market.",
    JobsError.MarketInWrongState: "The market's queue is not in the state this instruction needs.",
    JobsError.NotInMarketQueue: "The job or node is not in the market's queue.",
    JobsError.InvalidJobAccount: "The job account does not match the run's job.",
    JobsError.JobInWrongState: "The job is not in the state this instruction needs.",
    JobsError.JobNotExpired: "The job has not expired yet.",
    JobsError.JobResultNull: "The job result must not be all zeros.",
    JobsError.JobInvalidProject: "The signer is not the job's project.",
    JobsError.JobTimeoutNotGreater: "The new timeout must be greater than the current one.",
    JobsError.JobInvalidRunAccount: "The run account does not belong to this job.",
    JobsError.JobResultsAlreadySet: "The job already has a result.",
    JobsError.NodeQueueDoesNotMatch: "The node queue does not match.",
    JobsError.NodeStakeUnauthorized: "The stake account does not belong to this node.",
    JobsError.NodeNotEnoughStake: "The node's stake is below the market's minimum.",
    JobsError.NodeAlreadyQueued: "The node is already in the market's queue.",
    JobsError.NodeNftWrongMetadata: "The metadata account is not the Metaplex metadata of the NFT.",
    JobsError.NodeNftWrongOwner: "The access NFT is not held by this node.",
    JobsError.NodeNftInvalidAmount: "The access NFT token account holds no token.",
    JobsError.NodeKeyInvalidCollection: "The NFT is not in the market's verified access-key collection.",
    CommonError.Unauthorized: "The signer may not perform this action.",
    CommonError.InvalidVault: "The vault is not the market's vault.",
    CommonError.InvalidPayer: "The payer is not the one recorded in the job or run.",
    CommonError.InvalidATA: "The token account is not a NOS account of the expected owner.",
    CommonError.InvalidMint: "The mint is not NOS.",
}


def camel(name: str) -> str:
    """``close_admin`` -> ``closeAdmin`` (Anchor IDL naming)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _arg(arg: Arg) -> dict[str, Any]:
    return {"name": camel(arg.name), "type": _ARG_TYPES[arg.type]}


def build_idl(program_id: Pubkey | None = None, *, legacy_finish: bool = False) -> dict[str, Any]:
    """The IDL as a JSON-ready dict; ``legacy_finish`` declares ``finish`` with the 11 accounts of
    the official SDK's IDL (:data:`~nosana_node.chain.instructions.LEGACY_FINISH`)."""
    specs = dict(INSTRUCTIONS)
    if legacy_finish:
        specs["finish"] = LEGACY_FINISH
    idl: dict[str, Any] = {
        "version": IDL_VERSION,
        "name": PROGRAM_NAME,
        "instructions": [
            {
                "name": camel(spec.name),
                "accounts": [
                    {"name": camel(a.name), "isMut": a.writable, "isSigner": a.signer} for a in spec.accounts
                ],
                "args": [_arg(a) for a in spec.args],
            }
            for spec in specs.values()
        ],
        "accounts": [
            {
                "name": name,
                "type": {"kind": "struct", "fields": [{"name": f, "type": t} for f, t in fields]},
            }
            for name, fields in ACCOUNT_FIELDS.items()
        ],
        "types": [
            {"name": name, "type": {"kind": "enum", "variants": [{"name": v} for v in variants]}}
            for name, variants in ENUM_TYPES.items()
        ],
        "errors": [{"code": int(e), "name": e.name, "msg": msg} for e, msg in ERROR_MESSAGES.items()],
    }
    if program_id is not None:
        idl["metadata"] = {"address": str(program_id)}
    return idl


def idl_json(program_id: Pubkey | None = None, *, legacy_finish: bool = False) -> str:
    """The IDL as compact, deterministic JSON."""
    return json.dumps(build_idl(program_id, legacy_finish=legacy_finish), separators=(",", ":"))


def idl_account_data(idl: str, authority: Pubkey) -> bytes:
    """Data of Anchor's IDL account: discriminator, authority, u32 length, zlib(IDL JSON)."""
    compressed = zlib.compress(idl.encode())
    return IDL_ACCOUNT_DISCRIMINATOR + bytes(authority) + struct.pack("<I", len(compressed)) + compressed


def decode_idl_account(data: bytes) -> tuple[Pubkey, dict[str, Any]]:
    """Inverse of :func:`idl_account_data`: the authority and the IDL."""
    if data[:8] != IDL_ACCOUNT_DISCRIMINATOR or len(data) < 44:
        raise ValueError("not an Anchor IDL account")
    (length,) = struct.unpack_from("<I", data, 40)
    return Pubkey.from_bytes(data[8:40]), json.loads(zlib.decompress(data[44 : 44 + length]))
