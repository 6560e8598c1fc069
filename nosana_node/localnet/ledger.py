"""The ledger directory of the local market: accounts, transactions, blocks, keypairs, one owner.

Layout of a ledger directory::

    ledger.sqlite   accounts, transactions (with an index by address), blocks and chain
                    metadata (slot, clock offset, ...)
    genesis.json    what genesis created: program id, markets, test wallets (public keys only)
    keys/           keypairs of the admin, the faucet and the test wallets (Solana CLI JSON,
                    mode 600, directory mode 700)
    lock            held (flock) by the process serving the ledger
    endpoint.json   while `localnet start` serves it: its RPC and PubSub URLs and pid (how
                    clients configured with :network localnet find it)

Rules:

* a :class:`Commit` (closed slots: account states, transactions, blocks, metadata) is written in
  one SQLite transaction and is on disk when :meth:`Ledger.commit` returns (WAL, fsync on every
  commit): a crash, even of the machine, leaves the ledger at the last commit, never half-written;
* readers use their own connection and see the last commit only (the chain's ``finalized``);
* a ledger whose genesis never completed counts as empty; one written by an older layout is
  refused with a one-line message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.keyfile import read_keypair, write_keypair
from nosana_node.errors import ChainError, UserInputError

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    pubkey BLOB PRIMARY KEY, lamports INTEGER NOT NULL, owner BLOB NOT NULL,
    executable INTEGER NOT NULL, rent_epoch INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY, signature BLOB NOT NULL UNIQUE, slot INTEGER NOT NULL,
    err TEXT, block_time INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_slot ON transactions (slot, seq);
CREATE TABLE IF NOT EXISTS address_signatures (
    address BLOB NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (address, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    slot INTEGER PRIMARY KEY, parent INTEGER NOT NULL, blockhash TEXT NOT NULL,
    previous_blockhash TEXT NOT NULL, block_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: ``rent_epoch`` of rent-exempt accounts, as the runtime stores it (u64::MAX).
RENT_EXEMPT_EPOCH = 2**64 - 1


@dataclass(frozen=True)
class StoredTransaction:
    """One landed transaction: signature, slot, the accounts it mentions and its JSON record."""

    signature: bytes
    slot: int
    record: dict[str, Any]
    addresses: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Block:
    """A closed slot: its blockhash, its parent's and its unix time."""

    slot: int
    parent: int
    blockhash: str
    previous_blockhash: str
    block_time: int


@dataclass
class Commit:
    """What one commit writes: the state of changed accounts (``None``: closed), transactions in
    the order they ran, closed slots, and metadata."""

    slot: int = -1  # the last slot this commit closes
    accounts: dict[Pubkey, Account | None] = field(default_factory=dict)
    transactions: list[StoredTransaction] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.transactions or self.blocks or self.meta)

    def then(self, later: Commit) -> Commit:
        """This commit followed by ``later`` (later account states and metadata win)."""
        return Commit(
            max(self.slot, later.slot),
            {**self.accounts, **later.accounts},
            self.transactions + later.transactions,
            self.blocks + later.blocks,
            {**self.meta, **later.meta},
        )


class LedgerLockedError(UserInputError):
    """The ledger is served by another process."""


def _account(row: tuple[Any, ...]) -> Account:
    lamports, owner, executable, rent_epoch, data = row
    return Account(lamports, bytes(data), Pubkey.from_bytes(owner), bool(executable), int(rent_epoch))


class Ledger:
    """An open ledger directory (see the module docstring); holds its lock until closed."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserInputError(f"cannot create ledger directory {self.path}: {exc.strerror}") from None
        self._lock_fd = self._take_lock()
        try:
            self.keys_dir = self.path / "keys"
            self.keys_dir.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.keys_dir, 0o700)
            self._db = self._connect()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit
            self._db.executescript(_SCHEMA)
            self._check_layout()
            self._next_seq = int(
                self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions").fetchone()[0]
            )
            self._reader = self._connect()
            self._reader.execute("PRAGMA query_only=ON")
            self._read_lock = threading.Lock()
        except BaseException:
            os.close(self._lock_fd)
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path / "ledger.sqlite", check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise ChainError(f"cannot open the ledger {self.path}: {exc}") from None

    def _check_layout(self) -> None:
        version = self.meta("schema")
        if version is None and self.meta("genesis") is not None:
            raise UserInputError(
                f"ledger {self.path} was written by an older nosana-node: start over with --reset"
            )
        if version is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

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
        self._reader.close()
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

    # -- reading (any thread) ---------------------------------------------------------------------
    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            try:
                return self._reader.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ChainError(f"cannot read the ledger {self.path}: {exc}") from None

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def initialized(self) -> bool:
        """True once genesis has been committed."""
        return self.meta("genesis") is not None

    def load_accounts(self) -> Iterator[tuple[Pubkey, Account]]:
        """Every stored account."""
        rows = self._db.execute("SELECT pubkey, lamports, owner, executable, rent_epoch, data FROM accounts")
        for key, *rest in rows:
            yield Pubkey.from_bytes(key), _account(tuple(rest))

    def account(self, key: Pubkey) -> Account | None:
        """The committed state of one account (None: it does not exist)."""
        rows = self._read(
            "SELECT lamports, owner, executable, rent_epoch, data FROM accounts WHERE pubkey = ?",
            (bytes(key),),
        )
        return _account(rows[0]) if rows else None

    def transaction(self, signature: bytes) -> StoredTransaction | None:
        rows = self._read("SELECT slot, record FROM transactions WHERE signature = ?", (signature,))
        return StoredTransaction(signature, rows[0][0], json.loads(rows[0][1])) if rows else None

    def status(self, signature: bytes) -> tuple[int, Any] | None:
        """(slot, error JSON) of a committed transaction, or None."""
        rows = self._read("SELECT slot, err FROM transactions WHERE signature = ?", (signature,))
        return (rows[0][0], json.loads(rows[0][1]) if rows[0][1] else None) if rows else None

    def signatures_for_address(
        self, address: Pubkey, *, before: bytes | None, until: bytes | None, limit: int
    ) -> list[tuple[bytes, int, Any, int]]:
        """(signature, slot, error JSON, block time) of committed transactions that mention
        ``address``, newest first, strictly between ``until`` and ``before``."""
        bounds = ""
        args: list[Any] = [bytes(address)]
        for column, op in ((before, "<"), (until, ">")):
            if column is not None:
                bounds += f" AND a.seq {op} COALESCE((SELECT seq FROM transactions WHERE signature = ?), -1)"
                args.append(column)
        rows = self._read(
            "SELECT t.signature, t.slot, t.err, t.block_time FROM address_signatures a "
            f"JOIN transactions t ON t.seq = a.seq WHERE a.address = ?{bounds} ORDER BY a.seq DESC LIMIT ?",
            (*args, limit),
        )
        return [(bytes(s), slot, json.loads(err) if err else None, bt) for s, slot, err, bt in rows]

    def block(self, slot: int) -> Block | None:
        rows = self._read(
            "SELECT parent, blockhash, previous_blockhash, block_time FROM blocks WHERE slot = ?", (slot,)
        )
        return Block(slot, *rows[0]) if rows else None

    def block_transactions(self, slot: int) -> list[StoredTransaction]:
        rows = self._read("SELECT signature, record FROM transactions WHERE slot = ? ORDER BY seq", (slot,))
        return [StoredTransaction(bytes(s), slot, json.loads(r)) for s, r in rows]

    def transaction_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM transactions")[0][0])

    # -- writing (one committer at a time) --------------------------------------------------------
    def commit(self, batch: Commit) -> None:
        """Write ``batch`` in one transaction, durably; ChainError (nothing written) on failure."""
        db = self._db
        closed = [(bytes(k),) for k, a in batch.accounts.items() if a is None or a.lamports == 0]
        live = [
            (
                bytes(k),
                a.lamports,
                bytes(a.owner),
                int(a.executable),
                min(a.rent_epoch, 2**63 - 1),
                bytes(a.data),
            )
            for k, a in batch.accounts.items()
            if a is not None and a.lamports != 0
        ]
        first = self._next_seq
        rows, addresses = [], []
        for seq, t in enumerate(batch.transactions, start=first):
            err = t.record.get("err")
            rows.append(
                (
                    seq,
                    t.signature,
                    t.slot,
                    None if err is None else json.dumps(err),
                    t.record.get("blockTime") or 0,
                    json.dumps(t.record, separators=(",", ":")),
                )
            )
            addresses.extend((address, seq) for address in t.addresses)
        try:
            db.execute("BEGIN")
            db.executemany("DELETE FROM accounts WHERE pubkey = ?", closed)
            db.executemany("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?)", live)
            db.executemany("INSERT OR IGNORE INTO transactions VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT OR IGNORE INTO address_signatures VALUES (?, ?)", addresses)
            db.executemany(
                "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?, ?)",
                ((b.slot, b.parent, b.blockhash, b.previous_blockhash, b.block_time) for b in batch.blocks),
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", batch.meta.items())
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):  # the failure may have ended the transaction
                db.execute("ROLLBACK")
            raise ChainError(f"cannot write the ledger {self.path}: {exc}") from None
        self._next_seq = first + len(rows)

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
