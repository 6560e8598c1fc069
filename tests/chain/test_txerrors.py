"""Transaction errors in words, told apart by the program that failed (read from the logs)."""

from __future__ import annotations

from nosana_node.chain.addresses import MAINNET, TOKEN_PROGRAM
from nosana_node.chain.program import JobsProgram
from nosana_node.chain.txerrors import describe

JOBS = JobsProgram.bundled(MAINNET.jobs_program)


def _logs(failed: object, error: str) -> list[str]:
    return [f"Program {MAINNET.jobs_program} invoke [1]", f"Program {failed} failed: {error}"]


def test_jobs_program_errors_by_name_number_and_message() -> None:
    err = {"InstructionError": [1, {"Custom": 6010}]}
    reason, code, name = describe(err, _logs(MAINNET.jobs_program, "custom program error: 0x177a"), JOBS)
    assert reason == "JobResultsAlreadySet (6010): The job already has a result."
    assert (code, name) == (6010, "JobResultsAlreadySet")


def test_anchor_framework_errors_by_name() -> None:
    err = {"InstructionError": [0, {"Custom": 3012}]}
    reason, _, name = describe(err, _logs(MAINNET.jobs_program, "custom program error: 0xbc4"), JOBS)
    assert reason.startswith("AccountNotInitialized (3012): ") and name == "AccountNotInitialized"


def test_a_token_program_error_inside_a_jobs_instruction_is_the_token_programs() -> None:
    err = {"InstructionError": [0, {"Custom": 1}]}
    reason, code, name = describe(err, _logs(TOKEN_PROGRAM, "custom program error: 0x1"), JOBS)
    assert reason == "InsufficientFunds (1) from the token program" and code == 1 and name is None


def test_unknown_codes_and_top_level_errors() -> None:
    err = {"InstructionError": [0, {"Custom": 7777}]}
    assert describe(err, [], JOBS)[0] == "custom program error 7777 of the jobs program"
    assert describe("InsufficientFundsForFee", [], JOBS)[0] == (
        "InsufficientFundsForFee: the fee payer has too little SOL for the fee"
    )
    assert describe({"InstructionError": [2, "MissingRequiredSignature"]}, [], JOBS)[0] == (
        "MissingRequiredSignature (instruction 2)"
    )
