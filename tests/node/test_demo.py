"""`make demo` (scripts/demo.py) as a person runs it: the whole story, and Ctrl-C in the middle."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.cli import REPO
from tests.corekit import leftover_containers, no_traceback


def _demo() -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    return subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--keep"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _kept(out: str) -> Path:
    match = re.search(r"homes kept in (\S+)", out)
    assert match, out[-3000:]
    return Path(match.group(1))


def _check_and_remove(root: Path) -> None:
    try:
        assert not leftover_containers(root / "node")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_demo_tells_the_whole_story_and_stops_what_it_started() -> None:
    proc = _demo()
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-4000:]
    for words in (
        "starting a local market",
        "starting a node",
        "ok    Docker",
        "posted to market",
        "RUNNING on node",
        "COMPLETED; result Qm",
        "fetched through the job's result digest",
        "build-dist.tar",
        "node stopped (exit 0)",
        "market stopped (exit 0)",
    ):
        assert words in out, (words, out[-4000:])
    assert re.search(r"publish\s+succeeded\s+0", out)
    assert no_traceback(out)
    _check_and_remove(_kept(out))


def test_ctrl_c_in_the_middle_stops_everything() -> None:
    proc = _demo()
    lines: list[str] = []
    claimed = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if " claimed (run " in line:
                claimed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert claimed.wait(180), "".join(lines)[-3000:]
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    assert proc.wait(timeout=180) == 130
    reader.join(timeout=30)
    out = "".join(lines)
    assert "interrupted: stopping what the demo started" in out
    assert re.search(r"node stopped \(exit 0\)", out) and "market stopped (exit 0)" in out
    assert no_traceback(out)
    _check_and_remove(_kept(out))
