"""The protocol layer against the numbers published in the jobs-program spec and docs."""

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import (
    JOB_SIZE,
    MARKET_SIZE,
    RUN_SIZE,
    JobAccount,
    MarketAccount,
    QueueType,
    RunAccount,
    StakeAccount,
)
from nosana_node.chain.instructions import INSTRUCTIONS, LEGACY_FINISH


def test_account_discriminators_match_spec() -> None:
    assert MarketAccount.DISCRIMINATOR.hex() == "c94ebbe1f0c6c9fb"
    assert JobAccount.DISCRIMINATOR.hex() == "5b10a2052dd27d41"
    assert RunAccount.DISCRIMINATOR.hex() == "c2a96ee6eb0be116"


def test_instruction_discriminators_match_published_dispatch_ids() -> None:
    assert INSTRUCTIONS["open"].discriminator.hex() == "e4dc9b47c7bd3c2d"
    assert INSTRUCTIONS["update"].discriminator.hex() == "dbc858b09e3ffd7f"
    assert INSTRUCTIONS["close"].discriminator.hex() == "62a5c9b16c41ce60"
    assert INSTRUCTIONS["list"].discriminator.hex() == "36aec14311298426"


def test_all_nineteen_instructions_and_account_counts() -> None:
    assert len(INSTRUCTIONS) == 19
    assert len(INSTRUCTIONS["finish"].accounts) == 10
    assert len(LEGACY_FINISH.accounts) == 11
    assert len(INSTRUCTIONS["list"].accounts) == 12
    assert len(INSTRUCTIONS["assign"].accounts) == 13
    assert [a.name for a in INSTRUCTIONS["work"].accounts][:3] == ["run", "market", "payer"]


def test_market_offsets_follow_spec() -> None:
    a, v, k, q = (Pubkey.new_unique() for _ in range(4))
    m = MarketAccount(a, 7, 8, 9, 4, v, 253, k, (1 << 100) + 5, QueueType.NODE, [q])
    data = m.encode()
    assert len(data) == MARKET_SIZE == 10224
    assert data[8:40] == bytes(a)
    assert int.from_bytes(data[40:48], "little", signed=True) == 7
    assert int.from_bytes(data[48:56], "little") == 8
    assert int.from_bytes(data[56:64], "little") == 9
    assert data[64] == 4 and data[65:97] == bytes(v) and data[97] == 253
    assert data[98:130] == bytes(k)
    assert int.from_bytes(data[130:146], "little") == (1 << 100) + 5
    assert data[146] == 1 and int.from_bytes(data[147:151], "little") == 1 and data[151:183] == bytes(q)
    assert MarketAccount.decode(data) == m


def test_job_and_run_offsets_follow_spec() -> None:
    keys = [Pubkey.new_unique() for _ in range(4)]
    job = JobAccount(b"\1" * 32, b"\2" * 32, keys[0], keys[1], keys[2], 10, keys[3], 2, -1, 5, 600)
    data = job.encode()
    assert len(data) == JOB_SIZE == 240
    assert data[168:176] == (10).to_bytes(8, "little") and data[176:208] == bytes(keys[3])
    assert data[208] == 2 and data[225:233] == (600).to_bytes(8, "little")
    assert JobAccount.decode(data) == job
    run = RunAccount(keys[0], keys[1], keys[2], 0, 1_700_000_000)
    rdata = run.encode()
    assert len(rdata) == RUN_SIZE == 120 and rdata[105:113] == (1_700_000_000).to_bytes(8, "little")
    assert RunAccount.decode(rdata) == run


def test_stake_layout_round_trips() -> None:
    s = StakeAccount(5, Pubkey.new_unique(), 86400, 0, Pubkey.new_unique(), 254, 10**12)
    data = s.encode()
    assert data[8 + 8 + 32 + 8 + 8 + 32 + 1 :][:16] == (10**12).to_bytes(16, "little")
    assert StakeAccount.decode(data) == s


def test_instruction_data_round_trips() -> None:
    spec = INSTRUCTIONS["open"]
    data = spec.encode_data(job_expiration=1, job_price=2, job_timeout=3, job_type=4, node_xnos_minimum=5)
    assert len(data) == 8 + 8 + 8 + 8 + 1 + 16
    assert spec.decode_data(data)["node_xnos_minimum"] == 5
