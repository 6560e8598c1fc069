"""The generic interface checks of all 19 instructions, driven by the protocol table.

Every account slot the spec marks signer (S) or writable (W) is checked by the program before
anything else; so is the account count and the instruction data. The transactions here use
random accounts: the flag checks must fire first, with the builtin error for each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.chain import pda
from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.errors import CommonError
from nosana_node.chain.instructions import INSTRUCTIONS, InstructionSpec

from .conftest import Local, builtin, custom


def _args(spec: InstructionSpec) -> dict[str, Any]:
    return {a.name: bytes(32) if a.type == "bytes32" else 1 for a in spec.args}


def _send(local: Local, ix: Instruction, signers: list[Keypair]) -> dict[str, Any] | None:
    payer = local.clients[0].keypair
    message = Message([ix], payer.pubkey())
    required = set(message.account_keys[: message.header.num_required_signatures])
    keys = [payer, *(k for k in signers if k.pubkey() in required)]
    outcome = local.svm.send_transaction(Transaction(keys, message, local.svm.latest_blockhash()))
    local.svm.expire_blockhash()
    if hasattr(outcome, "err") and callable(outcome.err):
        return {"InstructionError": json.loads(outcome.err().to_json())}
    return None


def _metas(spec: InstructionSpec) -> tuple[list[AccountMeta], list[Keypair]]:
    keypairs = [Keypair() for _ in spec.accounts]
    metas = [
        AccountMeta(k.pubkey(), a.signer, a.writable) for k, a in zip(keypairs, spec.accounts, strict=True)
    ]
    return metas, keypairs


@pytest.mark.parametrize("name", list(INSTRUCTIONS))
def test_each_signer_slot_is_required(local: Local, name: str) -> None:
    spec = INSTRUCTIONS[name]
    for i in [i for i, a in enumerate(spec.accounts) if a.signer]:  # clean has none
        metas, keys = _metas(spec)
        metas[i] = AccountMeta(metas[i].pubkey, False, metas[i].is_writable)
        ix = Instruction(local.program_id, spec.encode_data(**_args(spec)), metas)
        assert _send(local, ix, keys) == builtin("MissingRequiredSignature"), (
            f"{name}: {spec.accounts[i].name}"
        )


@pytest.mark.parametrize("name", list(INSTRUCTIONS))
def test_each_writable_slot_is_required(local: Local, name: str) -> None:
    spec = INSTRUCTIONS[name]
    for i in [i for i, a in enumerate(spec.accounts) if a.writable]:
        metas, keys = _metas(spec)
        metas[i] = AccountMeta(metas[i].pubkey, metas[i].is_signer, False)
        ix = Instruction(local.program_id, spec.encode_data(**_args(spec)), metas)
        assert _send(local, ix, keys) == builtin("Immutable"), f"{name}: {spec.accounts[i].name}"


@pytest.mark.parametrize("name", list(INSTRUCTIONS))
def test_account_count_and_instruction_data(local: Local, name: str) -> None:
    spec = INSTRUCTIONS[name]
    metas, keys = _metas(spec)
    ix = Instruction(local.program_id, spec.encode_data(**_args(spec)), metas[:-1])
    assert _send(local, ix, keys) == builtin("NotEnoughAccountKeys")
    if spec.args:
        short = spec.encode_data(**_args(spec))[:-1]
        assert _send(local, Instruction(local.program_id, short, metas), keys) == builtin(
            "InvalidInstructionData"
        )


def test_unknown_or_short_discriminators_are_rejected(local: Local) -> None:
    for data in (b"", b"\x01\x02\x03", bytes(8), b"global:x"):
        ix = Instruction(local.program_id, data, [])
        assert _send(local, ix, []) == builtin("InvalidInstructionData")


def _readme_units() -> dict[str, int]:
    """The compute-unit table of programs/nosana_jobs/README.md: {"list price 0": 2745, ...}."""
    text = (Path(__file__).resolve().parents[2] / "programs" / "nosana_jobs" / "README.md").read_text()
    table = text.split("## Compute units", 1)[1]
    units = {}
    for row in re.findall(r"^\| (.+?) \| ([\d,]+) \| ([\d,]+) \|", table, re.M):
        name, free, priced = row
        units[f"{name} price 0"] = int(free.replace(",", ""))
        units[f"{name} price > 0"] = int(priced.replace(",", ""))
    return units


def test_compute_units_match_the_readme(local: Local) -> None:
    """list/work/finish cost what the program's README says (within 3 %), far below the
    default 200k budget. work searches the stake PDA: 1,500 units per bump tried, and the bump
    depends on the node's random key, so work is compared with the search's share taken out."""
    units = {}
    client, node, waiting = local.clients[0], local.nodes[0], local.nodes[1]
    for label, market in (("price 0", local.default), ("price > 0", local.priced)):
        _, bump = pda.stake(node.pubkey, MAINNET.nos_mint, MAINNET.staking_program)
        listed = local.tx_list(market, client)
        units[f"list (job queued) {label}"] = local.send(listed).expect_ok().compute_units
        worked = local.tx_work(market, node)
        search = 1_500 * (255 - bump)
        units[f"work (takes the job) {label}"] = local.send(worked).expect_ok().compute_units - search
        local.warp(60)  # the node worked a minute of the ten paid for: payment and refund
        finish = local.tx_finish(listed.keys["job"].pubkey(), worked.keys["run"].pubkey(), node, client)
        units[f"finish {label}"] = local.send(finish).expect_ok().compute_units
        local.work(market, waiting)
        assigned = local.tx_list(market, client)
        units[f"list (assigns a waiting node) {label}"] = local.send(assigned).expect_ok().compute_units
    print(units)
    documented = _readme_units()
    assert set(units) == set(documented), (units, documented)
    for name, measured in units.items():
        assert abs(measured - documented[name]) <= documented[name] * 0.03, (name, measured, documented[name])
    assert all(u < 20_000 for u in units.values()), units


def test_custom_errors_are_logged_as_anchor_logs_them(local: Local) -> None:
    """Anchor clients name a failure from this log line; runtimes before 1.18 could not even
    name the builtin errors that used to stand here (IncorrectAuthority)."""
    client, node, other = local.clients[0], local.nodes[0], local.nodes[1]
    job, run = local.running_job(local.default, client, node)
    outcome = local.send(local.tx_finish(job, run, other, client))
    assert outcome.error == custom(CommonError.Unauthorized)
    assert (
        "Program log: AnchorError occurred. Error Code: Unauthorized. Error Number: 6100. "
        "Error Message: The signer may not perform this action."
    ) in outcome.logs
    null = local.tx_finish(job, run, node, client)
    null.args["ipfs_result"] = bytes(32)
    logs = local.send(null).logs
    assert any(line.endswith("Error Code: JobResultNull. Error Number: 6006. Error Message: "
                             "The job result must not be all zeros.") for line in logs)  # fmt: skip
