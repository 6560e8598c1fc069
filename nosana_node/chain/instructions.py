"""The 19 instructions of the jobs program: arguments, account order, encoding.

One table (:data:`INSTRUCTIONS`) is the single source of truth for clients, tests and the IDL.
Instruction data is Anchor's ``sha256("global:<name>")[:8]`` followed by the Borsh arguments.

    >>> ix = INSTRUCTIONS["finish"].build(program_id, {"job": job, ...}, ipfs_result=digest)
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

_SCALARS: dict[str, struct.Struct] = {
    "u8": struct.Struct("<B"),
    "u64": struct.Struct("<Q"),
    "i64": struct.Struct("<q"),
}


def instruction_discriminator(name: str) -> bytes:
    """Anchor's instruction discriminator: ``sha256("global:<snake_case_name>")[:8]``."""
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


@dataclass(frozen=True)
class Arg:
    """One Borsh-encoded argument: ``u8``, ``u64``, ``i64``, ``u128`` or ``bytes32``."""

    name: str
    type: str

    def encode(self, value: object) -> bytes:
        if self.type == "bytes32":
            if not isinstance(value, bytes | bytearray) or len(value) != 32:
                raise ValueError(f"{self.name}: expected 32 bytes")
            return bytes(value)
        if self.type == "u128":
            if not isinstance(value, int) or not 0 <= value < 1 << 128:
                raise ValueError(f"{self.name}: expected a u128")
            return value.to_bytes(16, "little")
        try:
            return _SCALARS[self.type].pack(value)
        except struct.error as exc:
            raise ValueError(f"{self.name}: expected {self.type}: {exc}") from None

    @property
    def size(self) -> int:
        return {"bytes32": 32, "u128": 16}.get(self.type) or _SCALARS[self.type].size


@dataclass(frozen=True)
class AccountSpec:
    """One account slot of an instruction, in order."""

    name: str
    writable: bool = False
    signer: bool = False


@dataclass(frozen=True)
class InstructionSpec:
    """An instruction's name, arguments and account slots."""

    name: str
    args: tuple[Arg, ...]
    accounts: tuple[AccountSpec, ...]

    @property
    def discriminator(self) -> bytes:
        return instruction_discriminator(self.name)

    def encode_data(self, **args: object) -> bytes:
        """Discriminator followed by the Borsh-encoded arguments (all required, none extra)."""
        expected = {a.name for a in self.args}
        if set(args) != expected:
            raise ValueError(f"{self.name}: arguments {sorted(args)} != {sorted(expected)}")
        return self.discriminator + b"".join(a.encode(args[a.name]) for a in self.args)

    def decode_data(self, data: bytes) -> dict[str, object]:
        """Inverse of :meth:`encode_data` (used by tests and log decoding)."""
        if data[:8] != self.discriminator:
            raise ValueError(f"not a {self.name} instruction")
        out: dict[str, object] = {}
        pos = 8
        for arg in self.args:
            chunk = data[pos : pos + arg.size]
            if arg.type == "bytes32":
                out[arg.name] = chunk
            elif arg.type == "u128":
                out[arg.name] = int.from_bytes(chunk, "little")
            else:
                out[arg.name] = _SCALARS[arg.type].unpack(chunk)[0]
            pos += arg.size
        return out

    def metas(self, accounts: Mapping[str, Pubkey]) -> list[AccountMeta]:
        """Account metas in the spec's order; every slot must be given, no unknown names."""
        names = [a.name for a in self.accounts]
        missing = [n for n in names if n not in accounts]
        unknown = [n for n in accounts if n not in names]
        if missing or unknown:
            raise ValueError(f"{self.name}: missing accounts {missing}, unknown accounts {unknown}")
        return [AccountMeta(accounts[a.name], a.signer, a.writable) for a in self.accounts]

    def build(self, program_id: Pubkey, accounts: Mapping[str, Pubkey], **args: object) -> Instruction:
        """A ready-to-sign instruction."""
        return Instruction(program_id, self.encode_data(**args), self.metas(accounts))


def _acc(spec: str) -> AccountSpec:
    """``"market:w"``, ``"job:ws"``, ``"node"`` -> AccountSpec."""
    name, _, flags = spec.partition(":")
    return AccountSpec(name, writable="w" in flags, signer="s" in flags)


def _ix(name: str, args: str, accounts: str) -> InstructionSpec:
    parsed = tuple(Arg(*a.split(":")) for a in args.split())
    return InstructionSpec(name, parsed, tuple(_acc(a) for a in accounts.split()))


_CLOSE = "market:w vault:w user:w authority:s token_program"
_LIST = (
    "job:ws market:w run:ws {node} user:w vault:w payer:ws rewards_reflection:w rewards_vault:w "
    "authority:s rewards_program token_program system_program"
)

INSTRUCTIONS: dict[str, InstructionSpec] = {
    ix.name: ix
    for ix in (
        _ix(
            "open",
            "job_expiration:i64 job_price:u64 job_timeout:i64 job_type:u8 node_xnos_minimum:u128",
            "mint market:ws vault:w authority:ws access_key rent system_program token_program",
        ),
        _ix(
            "update",
            "job_expiration:i64 job_price:u64 job_type:u8 node_stake_minimum:u128 job_timeout:i64",
            "market:w access_key authority:s",
        ),
        _ix("close", "", _CLOSE),
        _ix("close_admin", "", _CLOSE),
        _ix("assign", "ipfs_job:bytes32 timeout:i64", _LIST.format(node="node")),
        _ix("list", "ipfs_job:bytes32 timeout:i64", _LIST.format(node="")),
        _ix("delist", "", "job:w market:w deposit:w payer:w vault:w token_program authority:ws"),
        _ix("recover", "", "job:w market vault:w user:w payer:w authority:s token_program"),
        _ix(
            "extend",
            "timeout:i64",
            "job:w market user:w vault:w rewards_reflection:w rewards_vault:w authority:s payer:s "
            "rewards_program token_program",
        ),
        _ix("end", "", "job:w market run:w deposit:w user:w vault:w payer:w authority:ws token_program"),
        _ix("work", "", "run:ws market:w payer:ws stake nft metadata authority:s system_program"),
        _ix("stop", "", "market:w node authority:s"),
        _ix("claim", "", "job:w run:ws market stake nft metadata payer:ws authority:s system_program"),
        _ix("complete", "ipfs_result:bytes32", "job:w authority:s"),
        _ix(
            "finish",
            "ipfs_result:bytes32",
            "job:w run:w market vault:w deposit:w user:w payer_run:w payer_job:w authority:s token_program",
        ),
        _ix("quit", "", "job:w run:w payer:w authority:s"),
        _ix("quit_admin", "", "run:w payer:w authority:s"),
        _ix("clean", "", "job:w market payer:w"),
        _ix("clean_admin", "", "job:w payer:w authority:s"),
    )
}

#: ``finish`` as the IDL published by the official SDK still describes it (11 accounts). Clients
#: build from the on-chain IDL when they can and must handle both shapes.
LEGACY_FINISH = _ix(
    "finish",
    "ipfs_result:bytes32",
    "job:w run:w market vault:w deposit:w user:w payer_job:w payer_run:w project:w authority:s token_program",
)
