"""Solana CLI keypair files: a JSON array of the 64 bytes of the keypair, as ``solana-keygen``
writes them; written mode 600 and atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from solders.keypair import Keypair

from nosana_node.errors import ChainError


def write_keypair(path: Path, keypair: Keypair) -> None:
    """Save a keypair as the Solana CLI does (a JSON array of 64 bytes), mode 600, atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(list(bytes(keypair)), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_keypair(path: Path) -> Keypair:
    """Read a Solana CLI keypair file."""
    try:
        raw = json.loads(path.read_text())
        return Keypair.from_bytes(bytes(raw))
    except (OSError, ValueError, TypeError) as exc:
        raise ChainError(f"cannot read keypair {path}: {exc}") from None
