"""The jobs program as a client sees it: its IDL (from chain, else bundled) and instruction building.

Account lists come from the IDL the chain publishes, so that a client builds ``finish`` with the
10 accounts of the current program or the 11 of the official SDK's IDL, whichever the chain
declares. Arguments are encoded by anchorpy's :class:`~anchorpy.InstructionCoder` from the same
IDL. When the chain has no IDL (or one anchorpy cannot read) the IDL bundled with this package
(:func:`nosana_node.chain.idl.build_idl`) is used, and :attr:`JobsProgram.source` says so.

    program = JobsProgram.load(rpc, program_id)
    ix = program.instruction("finish", {"job": job, "run": run, ...}, ipfs_result=digest)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.errors import JobsError
from nosana_node.chain.idl import decode_idl_account, idl_json
from nosana_node.chain.instructions import INSTRUCTIONS

log = logging.getLogger("nosana_node.chain")


def snake(name: str) -> str:
    """``payerJob`` -> ``payer_job`` (IDL names to this package's names)."""
    out = []
    for ch in name:
        if ch.isupper() and out:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


@dataclass(frozen=True)
class AccountSlot:
    """One account of an instruction as the IDL declares it."""

    name: str  # snake_case
    writable: bool
    signer: bool


class JobsProgram:
    """Instruction building and error names for the jobs program at ``program_id``."""

    def __init__(self, idl_text: str, program_id: Pubkey, source: str) -> None:
        self.program_id = program_id
        #: "chain" (the IDL account) or "bundled"
        self.source = source
        raw = json.loads(idl_text)
        self._slots = {snake(ix["name"]): _slots(ix) for ix in raw.get("instructions", [])}
        self._errors = {
            int(e["code"]): (str(e["name"]), e.get("msg")) for e in raw.get("errors", []) if "code" in e
        }
        self._coder = _anchorpy_coder(idl_text)

    @classmethod
    def bundled(cls, program_id: Pubkey) -> JobsProgram:
        """The IDL bundled with this package."""
        return cls(idl_json(program_id), program_id, "bundled")

    @classmethod
    def load(cls, rpc: Any, program_id: Pubkey) -> JobsProgram:
        """The IDL published on chain (Anchor's IDL account), else the bundled one."""
        account = rpc.account(pda.idl_address(program_id))
        if account is None:
            log.info("no IDL account for %s on chain: using the bundled IDL", program_id)
            return cls.bundled(program_id)
        try:
            _, idl = decode_idl_account(account.data)
            program = cls(json.dumps(idl), program_id, "chain")
            program.accounts_of("finish")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("the IDL on chain for %s is unreadable (%s): using the bundled IDL", program_id, exc)
            return cls.bundled(program_id)
        return program

    # -- instructions -----------------------------------------------------------------------------
    def accounts_of(self, name: str) -> list[AccountSlot]:
        """The account slots of instruction ``name`` (snake_case), in order."""
        try:
            return self._slots[name]
        except KeyError:
            raise KeyError(f"the jobs program's IDL has no instruction {name!r}") from None

    def instruction(self, name: str, accounts: Mapping[str, Pubkey], **args: Any) -> Instruction:
        """Instruction ``name`` with the accounts its IDL declares, picked by name from
        ``accounts`` (which may hold more, e.g. ``project`` for either ``finish`` shape)."""
        slots = self.accounts_of(name)
        missing = [s.name for s in slots if s.name not in accounts]
        if missing:
            raise ValueError(f"{name}: no value for accounts {missing}")
        metas = [AccountMeta(accounts[s.name], s.signer, s.writable) for s in slots]
        return Instruction(self.program_id, self.encode(name, **args), metas)

    def encode(self, name: str, **args: Any) -> bytes:
        """Instruction data: anchorpy's encoding from the IDL (our table when anchorpy cannot)."""
        if self._coder is not None:
            from anchorpy import NamedInstruction

            data = {k: list(v) if isinstance(v, bytes | bytearray) else v for k, v in args.items()}
            return bytes(self._coder.build(NamedInstruction(name=name, data=data)))
        return INSTRUCTIONS[name].encode_data(**args)

    # -- errors -----------------------------------------------------------------------------------
    def error_name(self, code: int) -> tuple[str, str | None] | None:
        """(name, message) of a custom error of this program: the IDL's, else the spec's, else
        Anchor's own framework errors (below 6000)."""
        if code in self._errors:
            return self._errors[code]
        try:
            return JobsError(code).name, None
        except ValueError:
            pass
        from anchorpy.error import LangErrorMessage

        for lang, message in LangErrorMessage.items():
            if int(lang) == code:
                return lang.name, message
        return None


def _slots(ix: dict[str, Any]) -> list[AccountSlot]:
    out = []
    for acc in ix.get("accounts", []):
        if "accounts" in acc:  # a nested group (Anchor composite accounts): flattened in order
            out.extend(_slots(acc))
            continue
        writable = bool(acc.get("isMut", acc.get("writable", False)))
        signer = bool(acc.get("isSigner", acc.get("signer", False)))
        out.append(AccountSlot(snake(acc["name"]), writable, signer))
    return out


def _anchorpy_coder(idl_text: str) -> Any:
    """anchorpy's instruction coder for this IDL, or None when anchorpy cannot read it (a
    newer IDL format): then our own table encodes the arguments."""
    try:
        from anchorpy import Idl, InstructionCoder

        return InstructionCoder(Idl.from_json(idl_text))
    except Exception as exc:  # anchorpy raises its parser's own errors
        log.info("anchorpy cannot read this IDL (%s): arguments are encoded from the spec", exc)
        return None
