"""The jobs program binary shipped with the package, re-targeted to a network or a local admin.

The committed ``program/nosana_jobs.so`` (built by ``make program`` from programs/nosana_jobs/)
carries the mainnet market admin, NOS mint and staking program in a configuration block in its
read-only data: a 32-byte magic tag followed by the three 32-byte keys (programs/nosana_jobs/
config.c). :func:`program_bytes` returns the binary with that block patched, so that the local
chain can use a local admin keypair. The program id is not in the binary: the program answers
at whatever address it is loaded.

    >>> so = program_bytes("mainnet", market_admin=admin.pubkey())
    >>> svm.add_program(MAINNET.jobs_program, so)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from solders.pubkey import Pubkey

from nosana_node.chain.addresses import NETWORKS, Network
from nosana_node.errors import ChainError, UserInputError

PROGRAM_PATH = Path(__file__).resolve().parent / "program" / "nosana_jobs.so"
CONFIG_MAGIC = b"nosana-jobs/config-block/v1".ljust(32, b"\0")
CONFIG_SIZE = 32 + 3 * 32


@dataclass(frozen=True)
class ProgramConfig:
    """The keys in the program's configuration block."""

    market_admin: Pubkey
    nos_mint: Pubkey
    staking_program: Pubkey

    @classmethod
    def for_network(cls, network: Network) -> ProgramConfig:
        return cls(network.market_admin, network.nos_mint, network.staking_program)

    def encode(self) -> bytes:
        """The block as stored: magic, market admin, NOS mint, staking program."""
        return CONFIG_MAGIC + bytes(self.market_admin) + bytes(self.nos_mint) + bytes(self.staking_program)


@cache
def committed_program() -> bytes:
    """The committed .so, as built (mainnet configuration)."""
    try:
        return PROGRAM_PATH.read_bytes()
    except OSError as exc:
        raise ChainError(f"jobs program binary missing ({PROGRAM_PATH}): run `make program`") from exc


def _block_offset(so: bytes) -> int:
    offset = so.find(CONFIG_MAGIC)
    if offset < 0 or so.find(CONFIG_MAGIC, offset + 1) >= 0 or offset + CONFIG_SIZE > len(so):
        raise ChainError("not a jobs program binary: its configuration block is missing or ambiguous")
    return offset


def read_config(so: bytes) -> ProgramConfig:
    """The configuration a program binary carries."""
    at = _block_offset(so) + 32
    keys = [Pubkey.from_bytes(so[at + 32 * i : at + 32 * (i + 1)]) for i in range(3)]
    return ProgramConfig(*keys)


def patch_config(so: bytes, config: ProgramConfig) -> bytes:
    """``so`` with its configuration block replaced by ``config``."""
    at = _block_offset(so)
    return so[:at] + config.encode() + so[at + CONFIG_SIZE :]


def program_bytes(
    network: str | Network = "mainnet",
    *,
    market_admin: Pubkey | None = None,
    nos_mint: Pubkey | None = None,
    staking_program: Pubkey | None = None,
) -> bytes:
    """The jobs program configured for ``network``, with any of its keys overridden."""
    if isinstance(network, str):
        if network not in NETWORKS:
            raise UserInputError(f"unknown network {network!r} (known: {', '.join(sorted(NETWORKS))})")
        network = NETWORKS[network]
    config = ProgramConfig.for_network(network)
    overrides = {
        name: value
        for name, value in (
            ("market_admin", market_admin),
            ("nos_mint", nos_mint),
            ("staking_program", staking_program),
        )
        if value is not None
    }
    return patch_config(committed_program(), replace(config, **overrides))
