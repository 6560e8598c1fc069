"""The embedded flow store: SQLite under the node's home directory.

``<home>/state.db`` holds each flow's plan and one row per op state; it is written after every
op state change (WAL, one short transaction), so a node that dies continues where it stopped.
``<home>/flows/<id>/`` holds the flow's logs and its content-addressed artifact store.

Everything written passes through the process masker: a stored flow never holds a secret value.
Each store has a random identity (``store_id``) that labels its containers, and each running flow
names the runner process that owns it, so two runners never take the same flow. One store may be
used by several threads at once (the ops of a flow run concurrently): every statement runs under
the store's lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class FlowBusyError(NosanaError):
    """Another live runner owns the flow."""


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
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = home / "state.db"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(flows)")}
        if "error" not in columns:  # a store made before flows had an error
            self._db.execute("ALTER TABLE flows ADD COLUMN error TEXT")
        self.store_id = self._store_id()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _store_id(self) -> str:
        with self._tx(immediate=True):
            row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
            if row:
                return row[0]
            value = uuid.uuid4().hex[:16]
            self._db.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (value,))
            return value

    class _Tx:
        def __init__(self, store: FlowStore, immediate: bool) -> None:
            self.store, self.immediate = store, immediate

        def __enter__(self) -> None:
            self.store._lock.acquire()
            try:
                self.store._db.execute("BEGIN IMMEDIATE" if self.immediate else "BEGIN")
            except BaseException:
                self.store._lock.release()
                raise

        def __exit__(self, exc_type: object, *_: object) -> None:
            try:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.store._lock.release()

    def _tx(self, immediate: bool = False) -> FlowStore._Tx:
        return FlowStore._Tx(self, immediate)

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
        path = self.flow_dir(flow.id) / "logs" / f"{index:03d}.{attempt}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # writes --------------------------------------------------------------------------------

    def exists(self, flow_id: str) -> bool:
        """True when a flow with exactly this id is stored."""
        return bool(self._query("SELECT 1 FROM flows WHERE id=?", (flow_id,)))

    def create(self, flow: Flow, source_key: str | None = None) -> None:
        """Insert a new flow with all its op states (:class:`UserInputError` if the id is taken)."""
        now = time.time()
        with self._tx(immediate=True):
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

    def save_flow(self, flow: Flow) -> None:
        """Save the flow's own status and times."""
        with self._tx():
            self._save_flow(flow)

    def _save_flow(self, flow: Flow) -> None:
        error = process_masker().mask(flow.error) if flow.error else None
        self._db.execute(
            "UPDATE flows SET status=?, started_at=?, ended_at=?, error=?, updated_at=? WHERE id=?",
            (str(flow.status), flow.started_at, flow.ended_at, error, time.time(), flow.id),
        )

    def save_op(self, flow: Flow, state: OpState) -> None:
        """Save one op state (and the flow's status) in one transaction."""
        with self._tx():
            self._db.execute(
                "UPDATE op_states SET status=?, run_count=?, doc=? WHERE flow_id=? AND op_id=?",
                (str(state.status), state.run_count, _dump(state.to_json()), flow.id, state.op_id),
            )
            self._save_flow(flow)

    def claim(self, flow_id: str, runner: RunnerIdentity) -> None:
        """Make ``runner`` the owner of the flow; :class:`FlowBusyError` if a live runner owns it."""
        with self._tx(immediate=True):
            row = self._db.execute("SELECT runner FROM flows WHERE id=?", (flow_id,)).fetchone()
            if row is None:
                raise UserInputError(f"no flow {flow_id} in {self.path}")
            owner = RunnerIdentity.parse(row[0]) if row[0] else None
            if owner is not None and owner != runner and owner.alive() is not False:
                raise FlowBusyError(f"flow {flow_id} is being run by {owner.host} pid {owner.pid}")
            self._db.execute("UPDATE flows SET runner=? WHERE id=?", (str(runner), flow_id))

    def release(self, flow_id: str, runner: RunnerIdentity) -> None:
        """Drop ``runner``'s ownership of the flow."""
        with self._tx():
            self._db.execute("UPDATE flows SET runner=NULL WHERE id=? AND runner=?", (flow_id, str(runner)))

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
        plan = json.loads(row[0])
        plan.update(status=row[1], started_at=row[2], ended_at=row[3], error=row[4])
        plan["states"] = [json.loads(doc) for (doc,) in docs]
        return Flow.from_json(plan)

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
