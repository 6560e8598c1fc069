"""The embedded flow store: SQLite under the node's home directory.

``<home>/state.db`` holds each flow's plan and one row per op state; it is written after every
op state change (WAL, one short transaction), so a node that dies continues where it stopped.
``<home>/flows/<id>/`` holds the flow's logs and its content-addressed artifact store.

Everything written passes through the process masker: a stored flow never holds a secret value.
Each store has a random identity (``store_id``) that labels its containers, and each running flow
names the runner process that owns it, so two runners never take the same flow. One store may be
used by several threads at once (the ops of a flow run concurrently): every statement runs under
the store's lock.

The database is the node's memory; it is never replaced or repaired behind the user's back. Any
SQLite failure is a :class:`StateError` naming the file: a damaged one (not a database, pages
missing or garbled, a plan that does not parse) says so and what to do (keep a copy, start a new
one), and the file is left exactly as it was. ``<home>/space-reserve`` (1 MiB, made when the
store opens and space allows) is given up when a write finds the disk full, so that the state
of a run that filled the disk can still be recorded; the write is then tried once more.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nosana_node.artifacts.store import ArtifactStore
from nosana_node.errors import NosanaError, UserInputError
from nosana_node.flow.model import Flow, FlowStatus, OpState
from nosana_node.flow.owner import RunnerIdentity
from nosana_node.secrets.masking import process_masker

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    source_key TEXT,
    runner TEXT,
    plan TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS flows_created ON flows (created_at);
CREATE TABLE IF NOT EXISTS op_states (
    flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    op_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    run_count INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (flow_id, op_id)
);
"""


T = TypeVar("T")

#: space kept free for recording state when the disk fills (see the module's doc)
RESERVE_BYTES = 1024 * 1024
RESERVE_NAME = "space-reserve"
_HEADER = b"SQLite format 3\x00"


class FlowBusyError(NosanaError):
    """Another live runner owns the flow."""


class StateError(NosanaError):
    """The state database cannot be opened, read or written (the message names the file)."""

    reason = "storage"


def damaged(path: Path, what: str) -> StateError:
    """The error for a state database that cannot be read as one."""
    aside = path.parent / "damaged"
    return StateError(
        f"the state database {path} is damaged ({what}); it was left as it is. Keep a copy of it and "
        f"start a new one: move it and its -wal/-shm files aside (`mkdir {aside} && mv {path}* {aside}/`), "
        "then run again"
    )


def state_error(path: Path, exc: sqlite3.Error | OSError) -> StateError:
    """A one-line :class:`StateError` for a SQLite (or file) failure on ``path``."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc) or type(exc).__name__
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT"):
        return damaged(path, text)
    if name == "SQLITE_FULL" or getattr(exc, "errno", None) == errno.ENOSPC:
        return StateError(
            f"cannot write the state database {path}: the disk is full ({text}); "
            "free some space, then run again (an interrupted flow resumes)"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StateError(f"the state database {path} is locked by another process ({text}); try again")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StateError(f"cannot write the state database {path} ({text}); check the home directory")
    return StateError(f"the state database {path} failed: {text}")


def check_header(path: Path) -> None:
    """Raise :class:`StateError` when ``path`` is plainly not a whole SQLite database (no
    header, or, without a write-ahead log beside it, shorter than the size its header gives):
    nothing is opened or written then."""
    try:
        size = path.stat().st_size
        if size == 0:
            return  # a new database
        with path.open("rb") as file:
            head = file.read(100)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise state_error(path, exc) from None
    if len(head) < 100 or not head.startswith(_HEADER):
        raise damaged(path, "file is not a database")
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, changed, valid_for = struct.unpack(">I", head[28:32])[0], head[24:28], head[92:96]
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # pages not yet copied back (a checkpoint cut short by a full disk) are in the log
    if pages and changed == valid_for and size < pages * page_size:
        raise damaged(path, f"cut short: {size} bytes where its header says {pages * page_size}")


@dataclass(frozen=True)
class FlowSummary:
    """One row of ``flow list``."""

    id: str
    name: str
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    runner: str | None


def _dump(obj: Any) -> str:
    return json.dumps(process_masker().mask_obj(obj), separators=(",", ":"), sort_keys=True)


class FlowStore:
    """Flows and op states in ``<home>/state.db``; per-flow files under ``<home>/flows/``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / "state.db"
        try:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot make the node's home {home}: {exc.strerror or exc}") from None
        check_header(self.path)
        self._lock = threading.RLock()
        with self._sql():
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            with self._sql():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._db.executescript(SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(flows)")}
                if "error" not in columns:  # a store made before flows had an error
                    self._db.execute("ALTER TABLE flows ADD COLUMN error TEXT")
            self.store_id = self._store_id()
        except BaseException:
            self._db.close()
            raise
        self._make_reserve()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # failures ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite failures within the block raise :class:`StateError` naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None

    @property
    def reserve_path(self) -> Path:
        """The file of space kept for recording state on a full disk."""
        return self.home / RESERVE_NAME

    def _make_reserve(self) -> None:
        path = self.reserve_path
        if path.exists():
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError:  # no room for it now: the next store that opens tries again
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def release_reserve(self) -> bool:
        """Give up the reserved space (the disk is full); True if there was some to give."""
        try:
            self.reserve_path.unlink()
        except OSError:
            return False
        return True

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock, self._sql():
            return self._db.execute(sql, params).fetchall()

    def _store_id(self) -> str:
        def work() -> str:
            row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
            if row:
                return row[0]
            value = uuid.uuid4().hex[:16]
            self._db.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (value,))
            return value

        return self._write(work, immediate=True)

    def _write(self, work: Callable[[], T], immediate: bool = False) -> T:
        """Run ``work`` in one transaction; a full disk gives up the reserve and tries once more."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
                    try:
                        result = work()
                        self._db.execute("COMMIT")
                        return result
                    except BaseException:
                        if self._db.in_transaction:
                            with contextlib.suppress(sqlite3.Error):
                                self._db.execute("ROLLBACK")
                        raise
                except sqlite3.Error as exc:
                    full = getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
                    if attempt == 1 and full and self.release_reserve():
                        continue
                    raise state_error(self.path, exc) from None
        raise AssertionError("unreachable")

    # files ---------------------------------------------------------------------------------

    def flow_dir(self, flow_id: str) -> Path:
        """``<home>/flows/<id>``."""
        return self.home / "flows" / flow_id

    def artifacts(self, flow_id: str) -> ArtifactStore:
        """The flow's content-addressed artifact store."""
        return ArtifactStore(self.flow_dir(flow_id) / "artifacts")

    def log_path(self, flow: Flow, op_id: str, attempt: int) -> Path:
        """Where the log of one attempt of one op is written (one file per attempt)."""
        index = [op.id for op in flow.ops].index(op_id)
        return self.flow_dir(flow.id) / "logs" / f"{index:03d}.{attempt}.jsonl"

    # writes --------------------------------------------------------------------------------

    def exists(self, flow_id: str) -> bool:
        """True when a flow with exactly this id is stored."""
        return bool(self._query("SELECT 1 FROM flows WHERE id=?", (flow_id,)))

    def create(self, flow: Flow, source_key: str | None = None) -> None:
        """Insert a new flow with all its op states (:class:`UserInputError` if the id is taken)."""
        now = time.time()

        def work() -> None:
            if self._db.execute("SELECT 1 FROM flows WHERE id=?", (flow.id,)).fetchone():
                raise UserInputError(f"a flow with id {flow.id} already exists in {self.path}")
            self._db.execute(
                "INSERT INTO flows (id, name, created_at, updated_at, status, source_key, plan)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    flow.id,
                    flow.name,
                    flow.created_at,
                    now,
                    str(flow.status),
                    source_key,
                    _dump(flow.plan_json()),
                ),
            )
            for index, op in enumerate(flow.ops):
                state = flow.states[op.id]
                self._db.execute(
                    "INSERT INTO op_states (flow_id, op_id, idx, status, run_count, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (flow.id, op.id, index, str(state.status), state.run_count, _dump(state.to_json())),
                )

        self._write(work, immediate=True)

    def save_flow(self, flow: Flow) -> None:
        """Save the flow's own status and times."""
        self._write(lambda: self._save_flow(flow))

    def _save_flow(self, flow: Flow) -> None:
        error = process_masker().mask(flow.error) if flow.error else None
        self._db.execute(
            "UPDATE flows SET status=?, started_at=?, ended_at=?, error=?, updated_at=? WHERE id=?",
            (str(flow.status), flow.started_at, flow.ended_at, error, time.time(), flow.id),
        )

    def save_op(self, flow: Flow, state: OpState) -> None:
        """Save one op state (and the flow's status) in one transaction."""
        doc = _dump(state.to_json())

        def work() -> None:
            self._db.execute(
                "UPDATE op_states SET status=?, run_count=?, doc=? WHERE flow_id=? AND op_id=?",
                (str(state.status), state.run_count, doc, flow.id, state.op_id),
            )
            self._save_flow(flow)

        self._write(work)

    def claim(self, flow_id: str, runner: RunnerIdentity) -> None:
        """Make ``runner`` the owner of the flow; :class:`FlowBusyError` if a live runner owns it."""

        def work() -> None:
            row = self._db.execute("SELECT runner FROM flows WHERE id=?", (flow_id,)).fetchone()
            if row is None:
                raise UserInputError(f"no flow {flow_id} in {self.path}")
            owner = RunnerIdentity.parse(row[0]) if row[0] else None
            if owner is not None and owner != runner and owner.alive() is not False:
                raise FlowBusyError(f"flow {flow_id} is being run by {owner.host} pid {owner.pid}")
            self._db.execute("UPDATE flows SET runner=? WHERE id=?", (str(runner), flow_id))

        self._write(work, immediate=True)

    def release(self, flow_id: str, runner: RunnerIdentity) -> None:
        """Drop ``runner``'s ownership of the flow."""
        self._write(
            lambda: self._db.execute(
                "UPDATE flows SET runner=NULL WHERE id=? AND runner=?", (flow_id, str(runner))
            )
        )

    # reads ---------------------------------------------------------------------------------

    def resolve_id(self, text: str) -> str:
        """A full flow id from an id or a unique prefix of one."""
        rows = self._query(
            "SELECT id FROM flows WHERE id LIKE ? ESCAPE '\\' LIMIT 3",
            (text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        if not rows:
            raise UserInputError(f"no flow {text!r} in {self.path} (see `nosana-node flow list`)")
        if len(rows) > 1 and not any(r[0] == text for r in rows):
            raise UserInputError(f"flow id prefix {text!r} is ambiguous")
        return text if any(r[0] == text for r in rows) else rows[0][0]

    def load(self, flow_id: str) -> Flow:
        """The flow with its states; ``flow_id`` may be a unique prefix."""
        with self._lock:
            flow_id = self.resolve_id(flow_id)
            (row,) = self._query(
                "SELECT plan, status, started_at, ended_at, error FROM flows WHERE id=?", (flow_id,)
            )
            docs = self._query("SELECT doc FROM op_states WHERE flow_id=? ORDER BY idx", (flow_id,))
        try:
            plan = json.loads(row[0])
            plan.update(status=row[1], started_at=row[2], ended_at=row[3], error=row[4])
            plan["states"] = [json.loads(doc) for (doc,) in docs]
            return Flow.from_json(plan)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise damaged(self.path, f"flow {flow_id} cannot be read: {type(exc).__name__}: {exc}") from None

    def status_of(self, flow_id: str) -> FlowStatus | None:
        """The flow's status (None when no flow has exactly this id)."""
        rows = self._query("SELECT status FROM flows WHERE id=?", (flow_id,))
        return FlowStatus(rows[0][0]) if rows else None

    def abandon(self, flow_id: str, why: str) -> bool:
        """Mark an unfinished flow whose runner is gone ``stopped`` (never to be resumed);
        False when it is finished, missing, or owned by a live runner."""

        def work() -> bool:
            row = self._db.execute("SELECT status, runner FROM flows WHERE id=?", (flow_id,)).fetchone()
            if row is None or FlowStatus(row[0]).finished:
                return False
            owner = RunnerIdentity.parse(row[1]) if row[1] else None
            if owner is not None and owner.alive() is not False:
                return False
            now = time.time()
            self._db.execute(
                "UPDATE flows SET status=?, ended_at=?, error=?, runner=NULL, updated_at=? WHERE id=?",
                (str(FlowStatus.STOPPED), now, why, now, flow_id),
            )
            return True

        return self._write(work, immediate=True)

    def unfinished(self) -> list[str]:
        """Ids of the flows that are not over (pending, running, interrupted)."""
        rows = self._query(
            "SELECT id FROM flows WHERE status IN (?, ?, ?) ORDER BY created_at",
            (str(FlowStatus.PENDING), str(FlowStatus.RUNNING), str(FlowStatus.INTERRUPTED)),
        )
        return [row[0] for row in rows]

    def runner_of(self, flow_id: str) -> RunnerIdentity | None:
        """The runner that owns the flow now, if any."""
        rows = self._query("SELECT runner FROM flows WHERE id=?", (flow_id,))
        return RunnerIdentity.parse(rows[0][0]) if rows and rows[0][0] else None

    def list(self, limit: int = 50) -> list[FlowSummary]:
        """The most recent flows, newest first."""
        rows = self._query(
            "SELECT id, name, status, created_at, started_at, ended_at, runner FROM flows"
            " ORDER BY created_at DESC LIMIT ?",
            (limit,),
        )
        return [FlowSummary(*row) for row in rows]

    def find_resumable(self, source_key: str) -> str | None:
        """The newest unfinished flow made from ``source_key`` whose runner is gone, if any."""
        rows = self._query(
            "SELECT id, runner FROM flows WHERE source_key=? AND status IN (?, ?, ?)"
            " ORDER BY created_at DESC",
            (source_key, str(FlowStatus.PENDING), str(FlowStatus.RUNNING), str(FlowStatus.INTERRUPTED)),
        )
        for flow_id, runner in rows:
            owner = RunnerIdentity.parse(runner) if runner else None
            if owner is None or owner.alive() is False:
                return flow_id
        return None
