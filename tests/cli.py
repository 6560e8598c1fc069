"""Running the real `nosana-node` command in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``nosana-node ARGS``; ``env`` is added to the environment minus NOSANA_*/VAULT_*/BAO_*."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOSANA_", "VAULT_", "BAO_"))}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "nosana_node", *args],
        env=base,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
