"""npm projects of the TypeScript client tests, ready to run.

``make test`` installs them (scripts/ensure-node-deps.sh); a test that finds its packages missing
or stale installs them the same way, and fails, with npm's last line, if it cannot: a missing
dependency is never a silent skip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import REPO

SCRIPT = REPO / "scripts" / "ensure-node-deps.sh"


def node_project(directory: Path) -> Path:
    """``directory`` with its exact npm packages in ``node_modules`` (installed if needed)."""
    lock = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    stamp = directory / "node_modules" / ".lock-sha256"
    ready = stamp.exists() and stamp.read_text().strip() == lock
    if not ready or shutil.which("node") is None:
        done = subprocess.run(
            ["bash", str(SCRIPT), str(directory)],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            pytest.fail(f"cannot install the npm packages of {directory.name} ({SCRIPT.name}): {last}")
    return directory
