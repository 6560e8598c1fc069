"""A Docker engine of the test's own, for tests that stop or freeze the engine.

The shared engine of this machine serves other test suites at the same time: a test that stops
it or freezes it would fail theirs. Such a test uses this one instead: a second ``dockerd`` with
its own data root, exec root (hence its own containerd), pid file, unix socket and default
bridge - an interface made for it, so the host's ``docker0`` is never touched (``--bridge=none``
would delete it) -, no iptables rules, no change to IP forwarding, containers under a cgroup
parent of its own. Job containers run there with ``--network none``. The project image is copied
from the shared engine (``docker save | docker load``).

:meth:`PrivateEngine.freeze` stops the daemon with SIGSTOP (its containers and their shims go
on running: only the API is gone), :meth:`PrivateEngine.thaw` resumes it; :meth:`stop` is a
graceful SIGTERM (dockerd stops its containers, then exits), :meth:`start` starts it again on the
same data. :meth:`close` thaws, stops and removes everything it made; only processes it started
are signalled, by their pid.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.corekit import IMAGE, engine

READY_WITHIN = 60.0


class PrivateEngine:
    """A second dockerd under a temporary directory (see the module's doc)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="nd-", dir="/tmp"))  # short: socket paths are bounded
        self.bridge = "ndb" + secrets.token_hex(4)
        self.socket = self.root / "sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", "192.0.2.1/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        assert self.proc is not None, "the private engine is not running"
        return self.proc.pid

    def start(self) -> None:
        """Start dockerd (again) and wait until it answers."""
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'dockerd.pid'}",
                f"--host={self.url}",
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--cgroup-parent=nosana-test-engine",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + READY_WITHIN
        while True:  # a daemon's readiness: nothing to wait on but its socket
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited ({self.proc.returncode}); see {self.root / 'dockerd.log'}"
                )
            with contextlib.suppress(Exception):
                api = self.api()
                try:
                    api.ping()
                    return
                finally:
                    api.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within {READY_WITHIN:g}s")
            time.sleep(0.1)

    def api(self) -> Any:
        """A low-level client of this engine."""
        return engine(self.url)

    def load_image(self, image: str = IMAGE) -> None:
        """Copy ``image`` from the shared engine (save, then load)."""
        shared, mine = engine(), self.api()
        try:
            mine.load_image(b"".join(shared.get_image(image)))
        finally:
            shared.close()
            mine.close()

    def freeze(self) -> None:
        """SIGSTOP the daemon: its API stops answering, its containers go on."""
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT the daemon."""
        if self.frozen and self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self) -> None:
        """Stop the daemon gracefully (its containers are stopped first) and wait for it."""
        if self.proc is None:
            return
        self.thaw()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        self._kill_leftovers()

    @property
    def running(self) -> bool:
        """True while the daemon process lives."""
        return self.proc is not None and self.proc.poll() is None

    def _kill_leftovers(self) -> None:
        """Processes of this engine still alive after its daemon (its containerd, shims). A child
        of this test (a ``nosana-node`` it started with ``--docker-url`` naming this engine's
        socket) is not one of them: it is left to end as the test expects."""
        marker = str(self.root)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                if marker in cmdline and _parent(entry) != os.getpid():
                    os.kill(int(entry.name), signal.SIGKILL)

    def close(self) -> None:
        """Stop the daemon and remove its bridge and files."""
        try:
            self.stop()
        finally:
            subprocess.run(["ip", "link", "delete", self.bridge], check=False, capture_output=True)
            mounts = [
                line.split()[1]
                for line in Path("/proc/self/mounts").read_text().splitlines()
                if line.split()[1].startswith(str(self.root))
            ]
            for mount in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)


def usable() -> str | None:
    """Why a private engine cannot be started here (None: it can)."""
    if os.geteuid() != 0:
        return "a second dockerd needs root"
    if shutil.which("dockerd") is None or shutil.which("ip") is None:
        return "dockerd or ip is not installed (make test installs them)"
    return None


def _parent(proc: Path) -> int:
    """The parent process id of ``/proc/<pid>`` (the field after the command's closing bracket)."""
    stat = (proc / "stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])
