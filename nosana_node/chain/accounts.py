"""Account layouts of the Nosana jobs program: decoding and encoding, byte for byte.

Offsets include Anchor's 8-byte discriminator (jobs-program spec, "Accounts"). Allocated sizes
are ``8 + size_of::<Struct>()`` as compiled for the SBF target, where ``u128`` is 8-aligned:
JobAccount 8 + 232 = 240, RunAccount 8 + 112 = 120, MarketAccount 8 + 168 + 314 x 32 = 10224
(the queue never grows the account; it holds at most :data:`MARKET_QUEUE_CAPACITY` keys).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

from solders.pubkey import Pubkey


def account_discriminator(name: str) -> bytes:
    """Anchor's account discriminator: ``sha256("account:<Name>")[:8]``."""
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


class QueueType(IntEnum):
    JOB = 0
    NODE = 1
    EMPTY = 255

    @classmethod
    def read(cls, value: int) -> QueueType:
        """Any byte other than 0 or 1 reads as Empty."""
        return cls(value) if value in (0, 1) else cls.EMPTY


class JobState(IntEnum):
    QUEUED = 0
    RUNNING = 1  # never stored: a queued job with a RunAccount is running
    DONE = 2
    STOPPED = 3


class JobType(IntEnum):
    DEFAULT = 0
    SMALL = 1
    MEDIUM = 2
    LARGE = 3
    GPU = 4
    UNKNOWN = 255


MARKET_QUEUE_CAPACITY = 314
MARKET_SIZE = 8 + 168 + MARKET_QUEUE_CAPACITY * 32
JOB_SIZE = 240
RUN_SIZE = 120


class DecodeError(ValueError):
    """Account data that is not the expected account type."""


def _check(data: bytes, disc: bytes, name: str, minimum: int) -> None:
    if len(data) < minimum or data[:8] != disc:
        raise DecodeError(f"not a {name} account ({len(data)} bytes)")


@dataclass
class MarketAccount:
    """A market: its settings and its FIFO queue of jobs or of nodes."""

    DISCRIMINATOR: ClassVar[bytes] = account_discriminator("MarketAccount")
    SIZE: ClassVar[int] = MARKET_SIZE
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<32sqqqB32sB32s16sBI")  # offsets 8..151

    authority: Pubkey
    job_expiration: int
    job_price: int
    job_timeout: int
    job_type: int
    vault: Pubkey
    vault_bump: int
    node_access_key: Pubkey
    node_xnos_minimum: int
    queue_type: int
    queue: list[Pubkey] = field(default_factory=list)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        _check(data, cls.DISCRIMINATOR, "MarketAccount", 8 + cls._FIXED.size)
        auth, exp, price, timeout, jtype, vault, bump, key, xnos, qtype, qlen = cls._FIXED.unpack_from(
            data, 8
        )
        start = 8 + cls._FIXED.size
        if start + 32 * qlen > len(data):
            raise DecodeError(f"MarketAccount queue length {qlen} overruns the account")
        queue = [Pubkey.from_bytes(data[start + 32 * i : start + 32 * (i + 1)]) for i in range(qlen)]
        return cls(
            Pubkey.from_bytes(auth), exp, price, timeout, jtype, Pubkey.from_bytes(vault), bump,
            Pubkey.from_bytes(key), int.from_bytes(xnos, "little"), qtype, queue,
        )  # fmt: skip

    def encode(self) -> bytes:
        """The full allocated account data (padded with zeros to SIZE)."""
        fixed = self._FIXED.pack(
            bytes(self.authority), self.job_expiration, self.job_price, self.job_timeout, self.job_type,
            bytes(self.vault), self.vault_bump, bytes(self.node_access_key),
            self.node_xnos_minimum.to_bytes(16, "little"), self.queue_type, len(self.queue),
        )  # fmt: skip
        body = self.DISCRIMINATOR + fixed + b"".join(bytes(k) for k in self.queue)
        return body.ljust(self.SIZE, b"\0")


@dataclass
class JobAccount:
    """A job: its documents (IPFS digests), parties, price, state and times."""

    DISCRIMINATOR: ClassVar[bytes] = account_discriminator("JobAccount")
    SIZE: ClassVar[int] = JOB_SIZE
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<32s32s32s32s32sQ32sBqqq")  # 225 bytes at 8

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

    @classmethod
    def decode(cls, data: bytes) -> Self:
        _check(data, cls.DISCRIMINATOR, "JobAccount", 8 + cls._LAYOUT.size)
        f = cls._LAYOUT.unpack_from(data, 8)
        pk = Pubkey.from_bytes
        return cls(f[0], f[1], pk(f[2]), pk(f[3]), pk(f[4]), f[5], pk(f[6]), f[7], f[8], f[9], f[10])

    def encode(self) -> bytes:
        fixed = self._LAYOUT.pack(
            self.ipfs_job, self.ipfs_result, bytes(self.market), bytes(self.node), bytes(self.payer),
            self.price, bytes(self.project), self.state, self.time_end, self.time_start, self.timeout,
        )  # fmt: skip
        return (self.DISCRIMINATOR + fixed).ljust(self.SIZE, b"\0")


@dataclass
class RunAccount:
    """A run: a node working on a job since ``time``."""

    DISCRIMINATOR: ClassVar[bytes] = account_discriminator("RunAccount")
    SIZE: ClassVar[int] = RUN_SIZE
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<32s32s32sBq")  # 105 bytes at 8

    job: Pubkey
    node: Pubkey
    payer: Pubkey
    state: int
    time: int

    @classmethod
    def decode(cls, data: bytes) -> Self:
        _check(data, cls.DISCRIMINATOR, "RunAccount", 8 + cls._LAYOUT.size)
        job, node, payer, state, time = cls._LAYOUT.unpack_from(data, 8)
        pk = Pubkey.from_bytes
        return cls(pk(job), pk(node), pk(payer), state, time)

    def encode(self) -> bytes:
        fixed = self._LAYOUT.pack(bytes(self.job), bytes(self.node), bytes(self.payer), self.state, self.time)
        return (self.DISCRIMINATOR + fixed).ljust(self.SIZE, b"\0")


@dataclass
class StakeAccount:
    """A stake of the Nosana staking program (read by the jobs program for node eligibility)."""

    DISCRIMINATOR: ClassVar[bytes] = account_discriminator("StakeAccount")
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<Q32sQq32sB16s")  # 105 bytes at 8

    amount: int
    authority: Pubkey
    duration: int
    time_unstake: int
    vault: Pubkey
    vault_bump: int
    xnos: int

    @classmethod
    def decode(cls, data: bytes) -> Self:
        _check(data, cls.DISCRIMINATOR, "StakeAccount", 8 + cls._LAYOUT.size)
        amount, auth, duration, unstake, vault, bump, xnos = cls._LAYOUT.unpack_from(data, 8)
        pk = Pubkey.from_bytes
        return cls(amount, pk(auth), duration, unstake, pk(vault), bump, int.from_bytes(xnos, "little"))

    def encode(self) -> bytes:
        return self.DISCRIMINATOR + self._LAYOUT.pack(
            self.amount, bytes(self.authority), self.duration, self.time_unstake, bytes(self.vault),
            self.vault_bump, self.xnos.to_bytes(16, "little"),
        )  # fmt: skip
