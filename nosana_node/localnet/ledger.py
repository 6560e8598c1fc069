"""The ledger directory of the local market: accounts, transactions, keypairs, one owner at a time.

Layout of a ledger directory::

    ledger.sqlite   accounts, transaction history and chain metadata (slot, clock offset, ...)
    genesis.json    what genesis created: program id, markets, test wallets (public keys only)
    keys/           keypairs of the admin, the faucet and the test wallets (Solana CLI JSON,
                    mode 600, directory mode 700)
    lock            held (flock) by the process serving the ledger
    endpoint.json   while `localnet start` serves it: its RPC and PubSub URLs and pid (how
                    clients configured with :network localnet find it)

Writes are batched by the chain and committed in one SQLite transaction, so a crash leaves the
ledger as it was at the last commit, never half-written. A ledger whose genesis never completed
counts as empty.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.errors import ChainError, UserInputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    pubkey BLOB PRIMARY KEY, lamports INTEGER NOT NULL, owner BLOB NOT NULL,
    executable INTEGER NOT NULL, rent_epoch INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    signature BLOB PRIMARY KEY, slot INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_slot ON transactions (slot);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: ``rent_epoch`` of rent-exempt accounts, as the runtime stores it (u64::MAX).
RENT_EXEMPT_EPOCH = 2**64 - 1


@dataclass(frozen=True)
class StoredTransaction:
    """One transaction as kept in the history: its signature, slot and JSON record."""

    signature: bytes
    slot: int
    record: dict[str, Any]


class LedgerLockedError(UserInputError):
    """The ledger is served by another process."""


class Ledger:
    """An open ledger directory (see the module docstring); holds its lock until closed."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserInputError(f"cannot create ledger directory {self.path}: {exc.strerror}") from None
        self._lock_fd = self._take_lock()
        self.keys_dir = self.path / "keys"
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)
        self._db = sqlite3.connect(self.path / "ledger.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # -- lifecycle --------------------------------------------------------------------------------
    def _take_lock(self) -> int:
        lock_path = self.path / "lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LedgerLockedError(
                f"ledger {self.path} is in use by process {holder}: stop that local market first, "
                "or pick another directory with --ledger"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd

    def close(self) -> None:
        """Close the database and release the lock."""
        if self._lock_fd < 0:
            return
        self._db.close()
        os.close(self._lock_fd)
        self._lock_fd = -1

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def reset(path: Path) -> None:
        """Delete a ledger directory (refused while another process serves it)."""
        path = path.expanduser().resolve()
        if not path.exists():
            return
        if not (path / "ledger.sqlite").exists() and any(path.iterdir()):
            raise UserInputError(f"refusing to reset {path}: it is not a ledger directory")
        Ledger(path).close()  # raises if another process holds the lock
        shutil.rmtree(path)

    # -- metadata ---------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def initialized(self) -> bool:
        """True once genesis has been committed."""
        return self.meta("genesis") is not None

    # -- accounts and history ---------------------------------------------------------------------
    def load_accounts(self) -> Iterator[tuple[Pubkey, Account]]:
        """Every stored account."""
        rows = self._db.execute("SELECT pubkey, lamports, owner, executable, rent_epoch, data FROM accounts")
        for key, lamports, owner, executable, rent_epoch, data in rows:
            yield (
                Pubkey.from_bytes(key),
                Account(lamports, bytes(data), Pubkey.from_bytes(owner), bool(executable), int(rent_epoch)),
            )

    def commit(
        self,
        accounts: Iterable[tuple[Pubkey, Account | None]] = (),
        transactions: Iterable[StoredTransaction] = (),
        meta: dict[str, str] | None = None,
    ) -> None:
        """Write account states (``None``: closed), transactions and metadata in one transaction."""
        db = self._db
        try:
            db.execute("BEGIN")
            for key, account in accounts:
                if account is None or account.lamports == 0:
                    db.execute("DELETE FROM accounts WHERE pubkey = ?", (bytes(key),))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            bytes(key),
                            account.lamports,
                            bytes(account.owner),
                            int(account.executable),
                            min(account.rent_epoch, 2**63 - 1),
                            bytes(account.data),
                        ),
                    )
            db.executemany(
                "INSERT OR REPLACE INTO transactions VALUES (?, ?, ?)",
                ((t.signature, t.slot, json.dumps(t.record, separators=(",", ":"))) for t in transactions),
            )
            for key, value in (meta or {}).items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise ChainError(f"cannot write the ledger {self.path}: {exc}") from None

    def transaction(self, signature: bytes) -> StoredTransaction | None:
        row = self._db.execute(
            "SELECT slot, record FROM transactions WHERE signature = ?", (signature,)
        ).fetchone()
        return StoredTransaction(signature, row[0], json.loads(row[1])) if row else None

    def transaction_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM transactions").fetchone()[0])

    # -- keypairs ---------------------------------------------------------------------------------
    def keypair_path(self, name: str) -> Path:
        return self.keys_dir / f"{name}.json"

    def keypair(self, name: str) -> Keypair:
        """The keypair ``keys/<name>.json``, created (mode 600) if missing."""
        path = self.keypair_path(name)
        if path.exists():
            return read_keypair(path)
        keypair = Keypair()
        write_keypair(path, keypair)
        return keypair


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
