"""Transaction errors in words: ``NodeNotEnoughStake (6013): The node's stake is below ...``.

A transaction error arrives as Solana's JSON shape (``{"InstructionError": [2, {"Custom": 6013}]}``,
``"InsufficientFundsForFee"``) with the program logs. The failing program is read from the logs
(``Program <id> failed: ...``) so that an error raised by the token program inside a jobs
instruction is named as the token program's, not mistaken for a jobs error.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from solders.pubkey import Pubkey

from nosana_node.chain.addresses import ASSOCIATED_TOKEN_PROGRAM, TOKEN_PROGRAM
from nosana_node.chain.failures import TransactionFailed

_FAILED = re.compile(r"^Program (\w+) failed: (.*)$")

#: SPL Token's error enum (token program custom errors).
TOKEN_ERRORS = (
    "NotRentExempt", "InsufficientFunds", "InvalidMint", "MintMismatch", "OwnerMismatch", "FixedSupply",
    "AlreadyInUse", "InvalidNumberOfProvidedSigners", "InvalidNumberOfRequiredSigners", "UninitializedState",
    "NativeNotSupported", "NonNativeHasBalance", "InvalidInstruction", "InvalidState", "Overflow",
    "AuthorityTypeNotSupported", "MintCannotFreeze", "AccountFrozen", "MintDecimalsMismatch",
    "NonNativeNotSupported",
)  # fmt: skip

#: Top-level transaction errors a user can do something about.
_HINTS = {
    "InsufficientFundsForFee": "the fee payer has too little SOL for the fee",
    "AccountNotFound": "the fee payer has no SOL (account not found)",
    "InsufficientFundsForRent": "an account would be left below the rent-exempt minimum",
    "BlockhashNotFound": "the blockhash expired",
    "AlreadyProcessed": "this transaction has already been processed",
}


class ErrorNames(Protocol):
    """Where custom error names come from (the jobs program's IDL)."""

    program_id: Pubkey

    def error_name(self, code: int) -> tuple[str, str | None] | None: ...


def failing_program(logs: list[str]) -> Pubkey | None:
    """The program whose failure ended the transaction, from its logs."""
    for line in reversed(logs):
        match = _FAILED.match(line)
        if match:
            try:
                return Pubkey.from_string(match.group(1))
            except ValueError:
                return None
    return None


def describe(err: Any, logs: list[str], program: ErrorNames) -> tuple[str, int | None, str | None]:
    """(reason, custom code, jobs error name) for a transaction error."""
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            code = int(inner["Custom"])
            failed = failing_program(logs) or program.program_id
            if failed == program.program_id:
                named = program.error_name(code)
                if named is not None:
                    name, message = named
                    return f"{name} ({code}){': ' + message if message else ''}", code, name
                return f"custom program error {code} of the jobs program", code, None
            if failed == TOKEN_PROGRAM and 0 <= code < len(TOKEN_ERRORS):
                return f"{TOKEN_ERRORS[code]} ({code}) from the token program", code, None
            return f"custom error {code} from the {_who(failed, program)}", code, None
        detail = inner if isinstance(inner, str) else next(iter(inner), str(inner))
        failed = failing_program(logs)
        return f"{detail} ({_who(failed, program) if failed else f'instruction {index}'})", None, None
    key = err if isinstance(err, str) else next(iter(err), str(err)) if isinstance(err, dict) else str(err)
    hint = _HINTS.get(key)
    return (f"{key}: {hint}" if hint else str(key)), None, None


def _who(failed: Pubkey, program: ErrorNames) -> str:
    names = {
        program.program_id: "jobs program",
        TOKEN_PROGRAM: "token program",
        ASSOCIATED_TOKEN_PROGRAM: "associated token program",
    }
    return names.get(failed, f"program {failed}")


def transaction_failed(
    action: str, err: Any, logs: list[str], program: ErrorNames, signature: str | None = None
) -> TransactionFailed:
    """The :class:`TransactionFailed` for ``err`` (one line; logs kept on the exception)."""
    reason, code, name = describe(err, logs, program)
    return TransactionFailed(action, reason, code=code, program_error=name, logs=logs, signature=signature)
