"""A damaged state database: one line naming the file, what is wrong and what to do; the file is
never touched, and a readable one is never replaced."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from nosana_node.flow.store import RESERVE_NAME, FlowStore, StateError
from tests.corekit import cli, no_traceback, write
from tests.flow.test_store import make_flow


def filled_home(tmp_path: Path) -> tuple[Path, bytes]:
    """A home whose state.db holds 30 flows, all in the main file (no write-ahead log left)."""
    home = tmp_path / "home"
    store = FlowStore(home)
    for i in range(30):
        store.create(make_flow(f"flow{i:04d}abcdef"))
    store.close()
    assert not (home / "state.db-wal").exists()
    return home, (home / "state.db").read_bytes()


def garble(data: bytes, start: int) -> bytes:
    return data[:start] + bytes([0xAA]) * (len(data) - start)


DAMAGE = {
    "no header": lambda data: b"garbage!" * 8 + data[64:],
    "cut in half": lambda data: data[: len(data) // 2],
    "cut to 1000 bytes": lambda data: data[:1000],
    "pages garbled": lambda data: garble(data, 4096),
}
COMMANDS = {
    "flow list": ("flow", "list"),
    "flow show": ("flow", "show", "flow0003"),
    "pipeline run": ("pipeline", "run", "{pipeline}"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_db_is_named_left_untouched_and_explained(
    tmp_path: Path, damage: str, command: str
) -> None:
    home, good = filled_home(tmp_path)
    db = home / "state.db"
    bad = DAMAGE[damage](good)
    db.write_bytes(bad)
    before = db.stat().st_mtime_ns
    pipeline_file = write(
        tmp_path,
        "global:\n  image: localhost/nosana-busybox:latest\njobs:\n  - name: a\n    commands: [true]\n",
    )
    args = [a.format(pipeline=pipeline_file) for a in COMMANDS[command]]
    proc = cli(*args, "--home", str(home))
    assert proc.returncode == 1
    assert no_traceback(proc.stderr)
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: the state database {db} is damaged (")
    assert "it was left as it is. Keep a copy of it and start a new one" in line
    assert f"mv {db}* {home / 'damaged'}/" in line
    assert db.read_bytes() == bad and db.stat().st_mtime_ns == before  # untouched
    assert {p.name for p in home.iterdir()} == {"state.db", RESERVE_NAME}  # no log, no new file


def test_the_advice_works_and_a_new_database_starts(tmp_path: Path) -> None:
    home, good = filled_home(tmp_path)
    (home / "state.db").write_bytes(garble(good, 4096))
    (home / "damaged").mkdir()
    for path in home.glob("state.db*"):
        path.rename(home / "damaged" / path.name)
    proc = cli("flow", "list", "--home", str(home))
    assert proc.returncode == 0 and proc.stdout.startswith("no flows yet"), proc.stderr
    assert (home / "damaged" / "state.db").read_bytes() == garble(good, 4096)


def test_a_plan_that_does_not_parse_names_the_flow_and_the_file(tmp_path: Path) -> None:
    home, _ = filled_home(tmp_path)
    db = sqlite3.connect(home / "state.db")
    db.execute("UPDATE flows SET plan='{not json' WHERE id='flow0007abcdef'")
    db.commit()
    db.close()
    store = FlowStore(home)
    try:
        assert [f.id for f in store.list(3)]  # the rest stays readable
        with pytest.raises(
            StateError, match=r"is damaged \(flow flow0007abcdef cannot be read: JSONDecodeError"
        ):
            store.load("flow0007")
    finally:
        store.close()


def test_an_unwritable_home_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.db").mkdir()  # not a file
    proc = cli("flow", "list", "--home", str(home))
    assert proc.returncode == 1 and no_traceback(proc.stderr)
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ") and str(home / "state.db") in line
    assert os.path.isdir(home / "state.db")
