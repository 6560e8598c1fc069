"""What the local market holds of its own per job cycle is bounded (LiteSVM's share is not ours).

The chain runs in its own process (``tests/localnet/memory_probe.py``: LocalChain over a ledger,
as ``localnet start`` serves it) with the bound on recent statuses lowered so that a short run
fills it; after a warm-up past every bound, more job cycles must not grow its Python heap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli import REPO

STATUSES = 200


def _probe(ledger: Path, statuses: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.localnet.memory_probe", str(ledger),
         "--warmup", "200", "--cycles", "150", "--statuses", str(statuses)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_job_cycles_leave_the_markets_own_memory_flat(tmp_path: Path) -> None:
    found = _probe(tmp_path / "ledger", STATUSES)
    warm, after = found["warm"], found["after"]
    # every structure of ours is full and stays the same size: statuses at their bound, no
    # records once committed, the replay window and blockhashes by slot age, and the account
    # index with only live accounts (each job is cleaned, each run closed by finish)
    assert warm["statuses"] == after["statuses"] == STATUSES
    assert warm["records"] == after["records"] == 0
    assert after == warm
    # 150 more cycles (600 transactions) add nothing to the Python heap (an unbounded status
    # table alone would add ~1.4 KiB a cycle)
    assert found["bytes_per_cycle"] < 128, found
