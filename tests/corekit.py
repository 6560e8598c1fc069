"""Shared helpers for the core's tests (pipeline, flow, docker): homes, CLI runs, engine checks.

Every test that runs containers gets its own home (hence its own store identity); after the
test, the engine is asked for containers labelled with that store, and there must be none.
The engine is shared with other test suites, so no check ever looks beyond our own labels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import labels
from nosana_node.flow.store import FlowStore

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
CLI = str(Path(sys.executable).with_name("nosana-node"))
STORE_IDS: list[str] = []  # every store a test created, for the end-of-session check


def engine() -> Any:
    """A low-level client of the shared engine."""
    import docker

    return docker.APIClient(version="auto")


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


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (test helper only)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_contains(home: Path, text: str) -> bool:
    """True when any stored log under ``home`` contains ``text``."""
    return any(text in p.read_text(errors="replace") for p in home.glob("flows/*/logs/*.jsonl"))


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
    home: Path, *, secrets: Any = None, context: dict[str, str] | None = None, **settings: Any
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
