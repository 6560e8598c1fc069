"""The real JS IPFS node (npm ipfs 0.66.1), offline on loopback, for the storage tests.

``scripts/ensure-ipfs.sh`` installs it and prepares a repository template (``make test`` runs
the script; the fixture runs it too, so ``pytest tests/storage`` works alone). Each daemon runs
on a copy of the template with API and gateway on free loopback ports (port 0), no swarm
addresses and no bootstrap peers; its addresses are read from what it prints when ready.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.cli import REPO

SCRIPT = REPO / "scripts" / "ensure-ipfs.sh"
#: the environment at import, before tests move HOME (the install is cached under the real one)
_ENV = dict(os.environ)
_LISTENING = re.compile(r"^(HTTP API|Gateway \(read only\)) listening on /ip4/([\d.]+)/tcp/(\d+)/http")


def install() -> Path:
    """The install directory (runs the idempotent script)."""
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1200, env=_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ensure-ipfs.sh failed: {done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class JsIpfs:
    """A running daemon."""

    process: subprocess.Popen[str]
    api_url: str
    gateway_url: str
    repo: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so no daemon outlives a killed run."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(install_dir: Path, workdir: Path, deadline_s: float = 120.0) -> JsIpfs:
    """Start ``jsipfs daemon --offline`` on a fresh copy of the template under ``workdir``."""
    repo = workdir / "jsipfs-repo"
    shutil.copytree(install_dir / "repo-template", repo)
    process = subprocess.Popen(
        [str(install_dir / "node_modules" / ".bin" / "jsipfs"), "daemon", "--offline"],
        env={**os.environ, "IPFS_PATH": str(repo)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    found: dict[str, str] = {}
    ready = threading.Event()
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line.rstrip())
            m = _LISTENING.match(line.strip())
            if m:
                found["api" if m.group(1) == "HTTP API" else "gateway"] = f"http://{m.group(2)}:{m.group(3)}"
            if "Daemon is ready" in line:
                ready.set()
        ready.set()  # ended: the waiter looks at the process

    threading.Thread(target=read, name="jsipfs-output", daemon=True).start()
    node = JsIpfs(process, "", "", repo)
    if not ready.wait(deadline_s) or process.poll() is not None or set(found) != {"api", "gateway"}:
        node.stop()
        raise RuntimeError("jsipfs daemon did not start: " + " | ".join(seen[-15:]))
    node.api_url, node.gateway_url = found["api"], found["gateway"]
    return node
