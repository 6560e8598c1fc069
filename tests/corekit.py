"""Shared helpers for the core's tests (pipeline, flow, docker): homes, CLI runs, engine checks.

Every test that runs containers gets its own home (hence its own store identity); after the
test, the engine is asked for containers labelled with that store, and there must be none.
The engine is shared with other test suites, so no check ever looks beyond our own labels.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import labels
from nosana_node.flow.store import FlowStore

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
CLI = str(Path(sys.executable).with_name("nosana-node"))
STORE_IDS: list[str] = []  # every store a test created, for the end-of-session check


def engine(base_url: str | None = None) -> Any:
    """A low-level client of the shared engine (or of the engine at ``base_url``)."""
    import docker

    return docker.APIClient(base_url=base_url, version="auto")


def store_id(home: Path) -> str | None:
    """The identity of the store under ``home`` (None when none was made)."""
    if not (home / "state.db").exists():
        return None
    store = FlowStore(home)
    try:
        return store.store_id
    finally:
        store.close()


def leftover_containers(home: Path) -> list[dict[str, Any]]:
    """Containers (any state) labelled with the store under ``home``."""
    sid = store_id(home)
    if sid is None:
        return []
    api = engine()
    try:
        return labels.store_containers(api, sid)
    finally:
        api.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh node home; afterwards, no container of its store may be left."""
    path = tmp_path / "home"
    yield path
    sid = store_id(path)
    if sid is not None:
        STORE_IDS.append(sid)
        left = leftover_containers(path)
        assert not left, f"containers left behind: {[c['Names'] for c in left]}"


def write(tmp_path: Path, text: str, name: str = "pipeline.yml") -> Path:
    """Write a pipeline file."""
    path = tmp_path / name
    path.write_text(text)
    return path


def cli(
    *args: str, home: Path | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real ``nosana-node`` command; returns the completed process (text mode)."""
    env = {**os.environ, **({"NOSANA_HOME": str(home)} if home else {})}
    env.pop("NOSANA_DEBUG", None)
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False, **kwargs
    )


def cli_json(*args: str, home: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run with ``--json``; returns the process and the parsed result."""
    proc = cli(*args, "--json", home=home)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"no JSON on stdout; rc={proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
        ) from None


def start_cli(*args: str, home: Path) -> subprocess.Popen[str]:
    """Start ``nosana-node`` in the background (its own process group)."""
    env = {**os.environ, "NOSANA_HOME": str(home)}
    return subprocess.Popen(
        [CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def new_store(home: Path) -> str:
    """Create the store under ``home`` (as a runner would) and return its identity: a test can
    then follow the engine's events for it before the runner, in another process, starts."""
    store = FlowStore(home)
    try:
        return store.store_id
    finally:
        store.close()


class EngineEvents:
    """The engine's container events for one store, read from its event stream as they come.

    Tests wait on these (a container started, died, was destroyed) instead of polling or sleeping,
    and measure with the engine's own timestamps (``timeNano``).
    """

    def __init__(self, store_id: str, base_url: str | None = None) -> None:
        self._api = engine(base_url)
        self._stream = self._api.events(
            decode=True, filters={"type": "container", "label": [f"{labels.STORE}={store_id}"]}
        )
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except Exception:  # the stream was closed
            pass

    def seen(self, action: str) -> list[dict[str, Any]]:
        """Events of ``action`` (``start``, ``die``, ``destroy`` …) so far."""
        with self._cond:
            return [e for e in self.events if e.get("Action") == action]

    def wait(self, action: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        """The first ``count`` events of ``action``; AssertionError if they do not come in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.seen(action)) >= count, timeout):
                got = [e.get("Action") for e in self.events]
                raise AssertionError(f"waited {timeout}s for {count} {action!r} event(s); saw {got}")
            return self.seen(action)[:count]

    def close(self) -> None:
        """Stop reading."""
        self._stream.close()
        self._api.close()

    def __enter__(self) -> EngineEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: a command that makes a job wait until the test lets it go (:func:`let_go`): orders a job's
#: end after something the test does, without sleeping
WAIT_FOR_GO = "until [ -e /tmp/nosana-go ]; do sleep 0.05; done"


def let_go(api: Any, container: str) -> None:
    """Let a job waiting in :data:`WAIT_FOR_GO` go on (puts the file it waits for)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("nosana-go"), io.BytesIO(b""))
    api.put_archive(container, "/tmp", data.getvalue())


def signal_other_thread(pid: int, sig: int) -> None:
    """Send ``sig`` to a thread of process ``pid`` other than its main one (Linux ``tgkill``): the
    kernel may hand a process's signal to any of its threads."""
    import ctypes

    tid = next(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234, pid, tid, sig) != 0:  # SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), "tgkill")


def event_time(event: dict[str, Any]) -> float:
    """When the engine says the event happened (unix seconds)."""
    return event["timeNano"] / 1e9


def no_traceback(text: str) -> bool:
    """True when ``text`` shows no Python traceback."""
    return "Traceback (most recent call last)" not in text


def run_pipeline(
    home: Path,
    text: str,
    *,
    secrets: Any = None,
    workspace: Path | None = None,
    context: dict[str, str] | None = None,
    **settings: Any,
) -> Any:
    """Validate, compile and run a pipeline in-process with a fresh runner; returns the flow."""
    from nosana_node.pipeline.prepare import prepare_pipeline

    home.mkdir(parents=True, exist_ok=True)
    path = home.parent / f"pipeline-{len(list(home.parent.glob('pipeline-*.yml')))}.yml"
    path.write_text(text)
    runner = flow_runner(home, secrets=secrets, context=context, **settings)
    try:
        prepared = prepare_pipeline(path, runner.store, workspace=workspace, fresh=True, context=context)
        return runner.run(prepared.flow, source_key=prepared.source_key)
    finally:
        runner.close()


def flow_runner(
    home: Path,
    *,
    secrets: Any = None,
    context: dict[str, str] | None = None,
    clock: Any = None,
    **settings: Any,
) -> Any:
    """A flow runner on ``home`` with the application's op types (jobs time out after 60 s)."""
    from nosana_node import wiring
    from nosana_node.flow.runner import FlowRunner
    from nosana_node.settings import RunnerSettings

    return FlowRunner(
        RunnerSettings(home=home, **{"job_timeout": 60, **settings}),
        wiring.op_types(),
        secrets=secrets,
        context=context,
        **({"clock": clock} if clock is not None else {}),
    )


def job_log(flow: Any, job: str, *streams: str) -> str:
    """The stored (masked) log text of a job's latest attempt: all streams, or only ``streams``.

    stdout and stderr are separate pipes: their relative order is not guaranteed, so exact
    order checks use one stream.
    """
    from nosana_node.flow.logs import read_log

    path = Path(flow.states[job].log["path"])
    return "".join(text for _, stream, text in read_log(path) if not streams or stream in streams)


def pipeline(*jobs: str, head: str = "") -> str:
    """A pipeline text with the project image and the given job blocks (YAML list items)."""
    return f"{head}global:\n  image: {IMAGE}\njobs:\n" + "".join(jobs)
