"""The local market in a real process: ``nosana-node localnet start --json`` on free ports.

A thread reads its stderr as it comes (a pipe nobody reads would block the server's log), so a
test can read what the market logged; :func:`rss_mib` reads its resident memory from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.keypair import Keypair

from tests.cli import REPO
from tests.localnet.conftest import HTTP


@dataclass
class Market:
    """A running ``localnet start`` process and what it printed."""

    proc: subprocess.Popen[str]
    summary: dict[str, Any]
    ledger: Path
    lines: list[str]

    @property
    def rpc_url(self) -> str:
        return self.summary["rpc_url"]

    @property
    def ws_url(self) -> str:
        return self.summary["ws_url"]

    @property
    def port(self) -> int:
        return int(self.rpc_url.rsplit(":", 1)[1])

    def log(self) -> str:
        """What the market wrote on stderr so far."""
        return "".join(self.lines)

    def keypair(self, name: str) -> Keypair:
        return Keypair.from_bytes(bytes(json.loads((self.ledger / "keys" / f"{name}.json").read_text())))

    def raw(self, method: str, *params: Any, timeout: float = 30) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return HTTP.post(self.rpc_url, json=body, timeout=timeout).json()

    def result(self, method: str, *params: Any) -> Any:
        response = self.raw(method, *params)
        assert "error" not in response, response
        return response["result"]


@contextmanager
def market_process(ledger: Path, *extra: str, preexec: Callable[[], None] | None = None) -> Iterator[Market]:
    """Start the local market on ``ledger``; stopped (SIGTERM) when the block ends, unless the
    test killed it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    cmd = [sys.executable, "-m", "nosana_node", "localnet", "start", "--ledger", str(ledger), "--json"]
    cmd += ["--rpc-port", "0", "--ws-port", "0", *extra]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        preexec_fn=preexec,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            proc.wait(timeout=60)
            reader.join(timeout=10)
        assert line, f"localnet start failed: {''.join(lines)}"
        yield Market(proc, json.loads(line), ledger, lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        reader.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")
