"""A client of the jobs program written from the spec alone, with solders and nothing of ours.

The RPC tests build instructions and decode accounts here, independently of the project's own
client code (nosana_node.chain), so that a shared misreading of the spec cannot hide.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

JOBS_PROGRAM = Pubkey.from_string("nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM")
NOS_MINT = Pubkey.from_string("nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7")
STAKING_PROGRAM = Pubkey.from_string("nosScmHY2uR24Zh751PmGj9ww9QRNHewh9H59AfrTJE")
REWARDS_PROGRAM = Pubkey.from_string("nosRB8DUV67oLNrL45bo2pFLrmsWPiewe2Lk2DRNYCp")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")

MARKET_DISCRIMINATOR = bytes.fromhex("c94ebbe1f0c6c9fb")
JOB_DISCRIMINATOR = bytes.fromhex("5b10a2052dd27d41")
JOB_DONE = 2


def _ix(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


def _w(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=True)


def _r(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=False)


def nos_account(owner: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(owner), bytes(TOKEN_PROGRAM), bytes(NOS_MINT)], ATA_PROGRAM)[0]


def stake(node: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([b"stake", bytes(NOS_MINT), bytes(node)], STAKING_PROGRAM)[0]


def list_ix(
    market: Pubkey, vault: Pubkey, client: Pubkey, job: Pubkey, run: Pubkey, digest: bytes
) -> Instruction:
    data = _ix("list") + digest + struct.pack("<q", 600)
    anywhere = Pubkey.new_unique()
    accounts = [
        _w(job, True), _w(market), _w(run, True), _w(nos_account(client)), _w(vault), _w(client, True),
        _w(anywhere), _w(Pubkey.new_unique()), _r(client, True), _r(REWARDS_PROGRAM), _r(TOKEN_PROGRAM),
        _r(SYSTEM_PROGRAM),
    ]  # fmt: skip
    return Instruction(JOBS_PROGRAM, data, accounts)


def work_ix(market: Pubkey, node: Pubkey, run: Pubkey) -> Instruction:
    accounts = [
        _w(run, True), _w(market), _w(node, True), _r(stake(node)), _r(nos_account(node)),
        _r(Pubkey.new_unique()), _r(node, True), _r(SYSTEM_PROGRAM),
    ]  # fmt: skip
    return Instruction(JOBS_PROGRAM, _ix("work"), accounts)


def finish_ix(
    job: Pubkey, run: Pubkey, market: Pubkey, vault: Pubkey, client: Pubkey, node: Pubkey, digest: bytes
) -> Instruction:
    accounts = [
        _w(job), _w(run), _r(market), _w(vault), _w(nos_account(client)), _w(nos_account(node)),
        _w(node), _w(client), _r(node, True), _r(TOKEN_PROGRAM),
    ]  # fmt: skip
    return Instruction(JOBS_PROGRAM, _ix("finish") + digest, accounts)


@dataclass
class Market:
    authority: Pubkey
    job_expiration: int
    job_price: int
    job_timeout: int
    job_type: int
    vault: Pubkey
    node_access_key: Pubkey
    node_xnos_minimum: int
    queue_type: int
    queue: list[Pubkey]


def decode_market(data: bytes) -> Market:
    assert data[:8] == MARKET_DISCRIMINATOR, "not a MarketAccount"
    (length,) = struct.unpack_from("<I", data, 147)
    return Market(
        authority=Pubkey.from_bytes(data[8:40]),
        job_expiration=struct.unpack_from("<q", data, 40)[0],
        job_price=struct.unpack_from("<Q", data, 48)[0],
        job_timeout=struct.unpack_from("<q", data, 56)[0],
        job_type=data[64],
        vault=Pubkey.from_bytes(data[65:97]),
        node_access_key=Pubkey.from_bytes(data[98:130]),
        node_xnos_minimum=int.from_bytes(data[130:146], "little"),
        queue_type=data[146],
        queue=[Pubkey.from_bytes(data[151 + 32 * i : 183 + 32 * i]) for i in range(length)],
    )


@dataclass
class Job:
    ipfs_job: bytes
    ipfs_result: bytes
    market: Pubkey
    node: Pubkey
    payer: Pubkey
    price: int
    project: Pubkey
    state: int
    time_end: int
    time_start: int
    timeout: int


def decode_job(data: bytes) -> Job:
    assert data[:8] == JOB_DISCRIMINATOR, "not a JobAccount"
    return Job(
        ipfs_job=data[8:40],
        ipfs_result=data[40:72],
        market=Pubkey.from_bytes(data[72:104]),
        node=Pubkey.from_bytes(data[104:136]),
        payer=Pubkey.from_bytes(data[136:168]),
        price=struct.unpack_from("<Q", data, 168)[0],
        project=Pubkey.from_bytes(data[176:208]),
        state=data[208],
        time_end=struct.unpack_from("<q", data, 209)[0],
        time_start=struct.unpack_from("<q", data, 217)[0],
        timeout=struct.unpack_from("<q", data, 225)[0],
    )
