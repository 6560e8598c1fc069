"""The generic interface checks of all 19 instructions, driven by the protocol table.

Every account slot the spec marks signer (S) or writable (W) is checked by the program before
anything else; so is the account count and the instruction data. The transactions here use
random accounts: the flag checks must fire first, with the builtin error for each.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.chain import pda
from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.instructions import INSTRUCTIONS, InstructionSpec

from .conftest import Local, builtin


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


def test_compute_units_of_the_hot_path(local: Local) -> None:
    """list/work/finish stay far below the default 200k budget (figures quoted in the README).

    work searches the stake PDA: 1,500 units per bump tried, and the bump depends on the node's
    random key, so work is compared with the search's share taken out."""
    units = {}
    client, node = local.clients[0], local.nodes[0]
    _, bump = pda.stake(node.pubkey, MAINNET.nos_mint, MAINNET.staking_program)
    search = 1_500 * (255 - bump)
    for label, market in (("free", local.default), ("priced", local.priced)):
        listed = local.tx_list(market, client)
        units[f"list {label}"] = local.send(listed).expect_ok().compute_units
        worked = local.tx_work(market, node)
        units[f"work {label}"] = local.send(worked).expect_ok().compute_units - search
        finish = local.tx_finish(listed.keys["job"].pubkey(), worked.keys["run"].pubkey(), node, client)
        units[f"finish {label}"] = local.send(finish).expect_ok().compute_units
    print(units)
    assert all(u < 12_000 for u in units.values()), units
