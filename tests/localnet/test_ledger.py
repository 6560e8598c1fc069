"""The local chain's ledger, clock and blockhash window (in process, real LiteSVM)."""

from __future__ import annotations

import stat
import struct
import time
from pathlib import Path

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.errors import ChainError, UserInputError
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.clock import ManualClock, SlotClock
from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.ledger import LedgerLockedError
from nosana_node.localnet.program import program_bytes

CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")


def _transfer(chain: LocalChain, payer: Keypair, to: Pubkey, lamports: int, blockhash: Hash | None = None):
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return Transaction([payer], Message([ix], payer.pubkey()), blockhash or chain.latest_blockhash())


def _clock_time(chain: LocalChain) -> int:
    data = bytes(chain.get_account(CLOCK_SYSVAR).data)
    return struct.unpack_from("<q", data, 32)[0]  # slot, epoch_start_timestamp, epoch, leader epoch, unix


def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    receiver = Keypair().pubkey()
    with Localnet.open(ledger) as net:
        markets = [m.address for m in net.markets]
        payer = Keypair.from_json((ledger / "keys" / "client-1.json").read_text())
        receipt = net.chain.send_transaction(_transfer(net.chain, payer, receiver, 3 * 10**9))
        assert receipt.ok
        slot_before = net.chain.advance_slot()
        net.chain.warp(1000)
        time_before = net.chain.now()
    with Localnet.open(ledger) as net:
        assert [m.address for m in net.markets] == markets
        assert net.chain.get_balance(receiver) == 3 * 10**9
        record = net.chain.transaction(receipt.signature)
        assert record is not None and record["err"] is None
        assert net.chain.slot > slot_before  # slots never go back
        assert net.chain.now() >= time_before  # and neither does the warped clock
        assert net.chain.transaction_count > 0


def test_one_process_per_ledger_and_reset(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    with Localnet.open(ledger) as net:
        first = net.genesis["markets"]["default"]["address"]
        with pytest.raises(LedgerLockedError, match="in use by process"):
            Localnet.open(ledger)
        with pytest.raises(LedgerLockedError):
            Localnet.open(ledger, reset=True)  # a reset cannot pull the ledger from under its server
    with Localnet.open(ledger, reset=True) as net:
        assert net.genesis["markets"]["default"]["address"] != first
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="not a ledger directory"):
        Localnet.open(tmp_path / "other", reset=True)
    assert (tmp_path / "other" / "precious.txt").exists()


def test_keypairs_are_private_and_the_program_id_is_fixed_per_ledger(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    custom = Pubkey.new_unique()
    with Localnet.open(ledger, program_id=custom) as net:
        assert net.program_id == custom
        assert net.chain.get_account(custom).executable
    keys = ledger / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    names = {p.name for p in keys.iterdir()}
    assert {"admin.json", "faucet.json", "client-1.json", "node-2.json"} <= names
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    with pytest.raises(UserInputError, match="--reset"):
        Localnet.open(ledger, program_id=MAINNET.jobs_program)
    with Localnet.open(ledger) as net:  # no --program-id: the ledger's
        assert net.program_id == custom


def _manual_chain(clock: ManualClock) -> LocalChain:
    """A chain on a clock that moves only when the test says so."""
    return LocalChain(
        MAINNET.jobs_program,
        program_bytes(),
        clock=lambda start: SlotClock(start, monotonic=clock, wall=clock),
    )


def test_the_clock_follows_wall_time_and_warps() -> None:
    assert abs(_clock_time(LocalChain(MAINNET.jobs_program, program_bytes())) - time.time()) <= 2
    clock = ManualClock(1_800_000_000)
    chain = _manual_chain(clock)
    assert _clock_time(chain) == 1_800_000_000
    chain.warp(3600)
    assert _clock_time(chain) == 1_800_003_600
    chain.set_time(2_000_000_000)
    assert chain.now() == 2_000_000_000
    slot = chain.slot
    clock.advance(1.1)
    assert chain.now() == 2_000_000_001 and chain.slot == slot + 2  # a slot every 400 ms


def test_blockhashes_expire_after_150_slots_and_signatures_are_taken_once() -> None:
    clock = ManualClock()
    chain = _manual_chain(clock)
    payer = Keypair()
    chain.airdrop(payer.pubkey(), 10 * 10**9)
    old_hash, last_valid = chain.latest_blockhash_info()
    tx = _transfer(chain, payer, Keypair().pubkey(), 10**9, old_hash)
    assert chain.send_transaction(tx).ok
    assert str(chain.send_transaction(tx).err) == "TransactionErrorFieldless.AlreadyProcessed"
    clock.advance(0.4 * (last_valid - chain.block_height))
    assert chain.is_blockhash_valid(old_hash)  # still valid in its last slot
    clock.advance(0.4)
    late = chain.send_transaction(_transfer(chain, payer, Keypair().pubkey(), 10**9, old_hash))
    assert str(late.err) == "TransactionErrorFieldless.BlockhashNotFound" and not late.landed
    assert not chain.is_blockhash_valid(old_hash)
    assert chain.send_transaction(_transfer(chain, payer, Keypair().pubkey(), 10**9)).ok


def test_preflight_failures_cost_nothing_and_land_nothing() -> None:
    chain = LocalChain(MAINNET.jobs_program, program_bytes())
    payer = Keypair()
    chain.airdrop(payer.pubkey(), 10**9)
    too_much = _transfer(chain, payer, Keypair().pubkey(), 5 * 10**9)
    refused = chain.send_transaction(too_much, preflight=True)
    assert not refused.ok and not refused.landed
    assert chain.get_balance(payer.pubkey()) == 10**9 and chain.transaction(refused.signature) is None
    landed = chain.send_transaction(too_much)  # the same transaction, no preflight: it lands and pays
    assert not landed.ok and landed.landed
    assert chain.get_balance(payer.pubkey()) == 10**9 - 5000
    assert chain.transaction(landed.signature)["err"] == {"InstructionError": [0, {"Custom": 1}]}


def test_a_failed_ledger_commit_keeps_everything_pending(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    receiver = Keypair().pubkey()
    with Localnet.open(ledger) as net:
        net.chain.airdrop(receiver, 10**9)
        db = net.ledger._db
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON transactions BEGIN SELECT RAISE(FAIL, 'disk full'); END"
        )
        with pytest.raises(ChainError, match="cannot write the ledger"):
            net.chain.flush()
        db.execute("DROP TRIGGER refuse")
        net.chain.flush()  # the next commit writes what the failed one could not
    with Localnet.open(ledger) as net:
        assert net.chain.get_balance(receiver) == 10**9
