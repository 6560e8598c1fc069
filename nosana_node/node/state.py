"""The node's own state on disk: one record per run it was given, saved before each next step.

``<home>/node.db`` (SQLite, WAL) holds a :class:`JobRecord` per run. A record moves through
:class:`Step` and is saved (one short transaction, synced) before the node does what comes next:

    claimed -> running -> result-stored (CID) -> finish-sent (signature, signed bytes) -> finished
                  \\-> stopped (ended on chain by its poster)      \\-> quit (given up: shutdown)

so a node killed at any point and started again knows, for every run the chain still shows and
every record not final, what was done: a flow that finished is never run again (its result is
built from the stored flow), a stored result is not stored again, and a finish that was sent is
followed by its signature before anything is sent again.

``<home>/node.lock`` is held (``flock``) by the node process that serves this home, with its pid
and start time inside: a second node on the same home is refused, and ``node status`` tells
whether one runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from nosana_node.errors import UserInputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    market TEXT NOT NULL,
    step TEXT NOT NULL,
    run_time INTEGER NOT NULL,
    claimed_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    flow_id TEXT,
    status TEXT,
    result_cid TEXT,
    finish_signature TEXT,
    finish_tx BLOB,
    finish_last_valid INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_step ON runs (step);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job);
"""


class Step(StrEnum):
    """Where a run stands; saved before the node goes on to the next."""

    CLAIMED = "claimed"  # the chain gave this node the job (a run account exists)
    RUNNING = "running"  # its flow (id: the job address) is stored and runs
    RESULT_STORED = "result-stored"  # the result document is stored: ``result_cid``
    FINISH_SENT = "finish-sent"  # ``finish`` signed (``finish_signature``, bytes kept) and sent
    FINISHED = "finished"  # ``finish`` landed: the job is done, the node paid
    STOPPED = "stopped"  # the job was ended on chain (by its poster) before it was finished
    QUIT = "quit"  # the node gave the run up (``quit``): another node may claim the job

    @property
    def final(self) -> bool:
        """True once nothing is left to do for the run."""
        return self in (Step.FINISHED, Step.STOPPED, Step.QUIT)


@dataclass(frozen=True)
class JobRecord:
    """One run of a job by this node, as saved."""

    run: str
    job: str
    market: str
    step: Step
    run_time: int  # unix time the run was created (the job's deadline is run_time + timeout)
    claimed_at: float
    updated_at: float = 0.0
    started_at: float | None = None  # when its flow first started
    ended_at: float | None = None  # when it reached a final step
    flow_id: str | None = None
    status: str | None = None  # the result's status: succeeded, failed, expired
    result_cid: str | None = None
    finish_signature: str | None = None
    finish_tx: bytes | None = field(default=None, repr=False)
    finish_last_valid: int | None = None
    error: str | None = None  # why it failed, stopped or was quit

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (without the signed bytes)."""
        data = asdict(self)
        data.pop("finish_tx")
        data["step"] = str(self.step)
        return data


_COLUMNS = [f.name for f in fields(JobRecord)]


def _record(row: sqlite3.Row) -> JobRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["step"] = Step(data["step"])
    return JobRecord(**data)


class NodeDb:
    """The run records in ``<home>/node.db``; safe to share between threads."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = home / "node.db"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a step saved survives a crash of the machine
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def save(self, record: JobRecord) -> JobRecord:
        """Insert or replace ``record`` (``updated_at`` set now); returns it as saved."""
        record = replace(record, updated_at=time.time())
        values = tuple(str(v) if isinstance(v, Step) else v for v in (getattr(record, c) for c in _COLUMNS))
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({marks})", values)
        return record

    def get(self, run: str) -> JobRecord | None:
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run=?", (run,))
        return _record(rows[0]) if rows else None

    def for_job(self, job: str) -> list[JobRecord]:
        """Every run of ``job`` this node had, oldest first."""
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE job=? ORDER BY claimed_at", (job,))
        return [_record(r) for r in rows]

    def unfinished(self) -> list[JobRecord]:
        """Runs not at a final step, oldest first."""
        final = tuple(str(s) for s in Step if s.final)
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE step NOT IN (?, ?, ?) ORDER BY claimed_at", final
        )
        return [_record(r) for r in rows]

    def recent(self, limit: int = 20) -> list[JobRecord]:
        """The newest runs first."""
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM runs ORDER BY claimed_at DESC LIMIT ?", (limit,)
        )
        return [_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Runs per step."""
        return {step: n for step, n in self._query("SELECT step, COUNT(*) FROM runs GROUP BY step")}


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or last held) a home's node lock."""

    pid: int
    started_at: float
    wallet: str
    market: str


class HomeLock:
    """The exclusive lock of a node home (``<home>/node.lock``), held while the node serves it."""

    def __init__(self, home: Path) -> None:
        self.path = home / "node.lock"
        self._file: IO[str] | None = None

    def acquire(self, wallet: str, market: str) -> None:
        """Take the lock or raise :class:`UserInputError` naming the node that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = read_lock(self.path)
            handle.close()
            who = f" (pid {holder.pid}, market {holder.market})" if holder else ""
            raise UserInputError(
                f"a node already runs with home {self.path.parent}{who}; stop it first, or give this "
                "one another home (--home / NOSANA_HOME)"
            ) from None
        info = LockInfo(os.getpid(), time.time(), wallet, market)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(info)) + "\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> HomeLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock(path: Path) -> LockInfo | None:
    """What the lock file says (the last holder), or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(int(data["pid"]), float(data["started_at"]), str(data["wallet"]), str(data["market"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_node(home: Path) -> LockInfo | None:
    """The node serving ``home`` now, or None (the lock is free)."""
    path = home / "node.lock"
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return read_lock(path)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
