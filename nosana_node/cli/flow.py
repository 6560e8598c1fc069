"""`nosana-node flow`: inspect and resume flows (compiled, saved runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nosana_node.cli import options
from nosana_node.cli.execute import run_with_display
from nosana_node.terminal import SgrMode, neutralise

if TYPE_CHECKING:
    from nosana_node.flow.store import FlowStore

app = typer.Typer(help="Inspect and resume flows (compiled, saved runs).", no_args_is_help=True)

FLOW_ID = typer.Argument(..., metavar="ID", help="Flow id (or a unique prefix of one).", show_default=False)


def _store(home: Path | None) -> FlowStore:
    from nosana_node import wiring
    from nosana_node.flow.store import FlowStore

    return FlowStore(wiring.load_configuration(flags=options.config_flags(home=home)).config.home)


@app.command("list")
def list_flows(
    home: Path | None = options.HOME,
    json_out: bool = options.flag("--json", help="Print the list as JSON."),
    limit: int = typer.Option(
        20, "--limit", "-n", help="How many flows, newest first. [default: 20]", show_default=False
    ),
) -> None:
    """List the most recent flows."""
    from nosana_node.flow.result import iso
    from nosana_node.units import elapsed

    store = _store(home)
    try:
        flows = store.list(limit)
    finally:
        store.close()
    if json_out:
        rows = [
            {
                "flow_id": f.id,
                "name": f.name,
                "status": f.status,
                "created_at": iso(f.created_at),
                "started_at": iso(f.started_at),
                "ended_at": iso(f.ended_at),
            }
            for f in flows
        ]
        print(json.dumps(rows, indent=2))
        return
    if not flows:
        print("no flows yet (run one with `nosana-node pipeline run FILE`)")
        return
    rows_text = [("FLOW", "STATUS", "CREATED", "TIME", "NAME")]
    for f in flows:
        duration = f.ended_at - f.started_at if f.started_at and f.ended_at else None
        created = (iso(f.created_at) or "")[:19].replace("T", " ")
        rows_text.append((f.id, f.status, created, elapsed(duration), neutralise(f.name)))
    widths = [max(len(r[i]) for r in rows_text) for i in range(4)]
    for r in rows_text:
        print("  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(r)))


@app.command()
def show(
    flow_id: str = FLOW_ID,
    home: Path | None = options.HOME,
    json_out: bool = options.flag("--json", help="Print the result and the plan as JSON."),
    logs: bool = options.flag("--logs", help="Print each job's stored log (latest attempt)."),
) -> None:
    """Show a flow: status, each job's outcome, artifacts (and logs with --logs)."""
    from nosana_node.cli.display import ICONS, status_text
    from nosana_node.flow.result import flow_result

    store = _store(home)
    try:
        flow = store.load(flow_id)
        runner = store.runner_of(flow.id)
    finally:
        store.close()
    if json_out:
        print(json.dumps({**flow_result(flow), "plan": flow.plan_json()["ops"]}, indent=2))
        return
    owner = f" · run by {runner.host} pid {runner.pid}" if runner and runner.alive() is not False else ""
    print(neutralise(f"flow {flow.id} · {flow.name} · {flow.status}{owner}"))
    if flow.source.get("file"):
        print(neutralise(f"  source: {flow.source['file']}"))
    for op in flow.ops:
        state = flow.states[op.id]
        attempts = f" · {state.run_count} attempts" if state.run_count > 1 else ""
        print(neutralise(f"{ICONS[state.status]} {op.id} [{op.type}] {status_text(flow, op)}{attempts}"))
        for name, record in state.results.artifacts.items():
            print(neutralise(f"    artifact {name}: {record.digest} ({record.size} bytes)"))
        log_path = state.log.get("path")
        if logs and log_path and Path(log_path).exists():
            _print_log(Path(log_path), "keep" if sys.stdout.isatty() else "strip")


def _print_log(path: Path, sgr: SgrMode) -> None:
    """A stored log, line by line per stream, control sequences made inert (colours: ``sgr``)."""
    from nosana_node.cli.display import LineSplitter, shown_line
    from nosana_node.flow.logs import read_log

    def out(stream: str, line: str) -> None:
        mark = {"stderr": "!", "node": "·"}.get(stream, "|")
        sys.stdout.write(f"    {mark} {shown_line(line, sgr)}\n")

    lines = LineSplitter(cap=None)
    for _, stream, text in read_log(path):
        for line in lines.feed(stream, text):
            out(stream, line)
    for stream, line in lines.flush():
        out(stream, line)


@app.command()
def resume(
    flow_id: str = FLOW_ID,
    json_out: bool = options.JSON,
    home: Path | None = options.HOME,
    docker_url: str | None = options.DOCKER_URL,
    pull: str | None = options.PULL,
    timeout: str | None = options.TIMEOUT,
    cpus: str | None = options.CPUS,
    memory: str | None = options.MEMORY,
    pids: str | None = options.PIDS,
    log_cap: str | None = options.LOG_CAP,
    artifact_cap: str | None = options.ARTIFACT_CAP,
    gpus: str | None = options.GPUS,
    network: str | None = options.NETWORK,
) -> None:
    """Continue an interrupted flow: finished jobs are kept, the rest run (exit 0/1 like `pipeline run`)."""
    flags = options.config_flags(
        home=home,
        docker_url=docker_url,
        pull=pull,
        timeout=timeout,
        cpus=cpus,
        memory=memory,
        pids=pids,
        log_cap=log_cap,
        artifact_cap=artifact_cap,
        gpus=gpus,
        network=network,
    )
    run_with_display(
        flags, lambda runner: (runner.load(flow_id), True, None), json_out=json_out, announce_resume=False
    )


@app.command()
def extract(
    flow_id: str = FLOW_ID,
    artifact: str = typer.Argument(..., help="Artifact name.", show_default=False),
    dest: Path = typer.Option(
        ..., "--to", metavar="DIR", help="Directory to extract into (created if missing). [required]"
    ),
    job: str | None = typer.Option(
        None, "--job", help="Job that made it. [default: the last one that did]", show_default=False
    ),
    home: Path | None = options.HOME,
) -> None:
    """Extract an artifact of a flow into a local directory (checked: nothing lands outside it)."""
    from nosana_node.artifacts.tarcheck import safe_extract
    from nosana_node.errors import UserInputError

    store = _store(home)
    try:
        flow = store.load(flow_id)
        record = None
        for op in reversed(flow.ops):
            if job is not None and op.id != job:
                continue
            record = flow.states[op.id].results.artifacts.get(artifact)
            if record:
                break
        if not record:
            raise UserInputError(
                f"flow {flow.id} has no artifact {artifact!r}" + (f" from job {job!r}" if job else "")
            )
        summary = safe_extract(store.artifacts(flow.id).path(record.digest), dest)
    finally:
        store.close()
    print(f"extracted {artifact} ({summary.files} files, {summary.bytes} bytes) into {dest}", file=sys.stderr)


@app.command()
def cleanup(
    home: Path | None = options.HOME,
    docker_url: str | None = options.DOCKER_URL,
    abandon: bool = options.flag(
        "--abandon",
        help="First give up every unfinished flow whose runner is gone (it can no longer be resumed).",
    ),
) -> None:
    """Remove what flows that are over left on the engine: containers of runners that are gone,
    job volumes and networks, private copies (an interrupted flow keeps its own unless --abandon)."""
    from nosana_node import wiring
    from nosana_node.docker import labels
    from nosana_node.docker.engine import connect
    from nosana_node.docker.leftovers import sweep_job_leftovers
    from nosana_node.flow.store import FlowStore

    loaded = wiring.load_configuration(flags=options.config_flags(home=home, docker_url=docker_url))
    settings = wiring.runner_settings(loaded.config)
    store = FlowStore(settings.home)
    try:
        given_up = []
        if abandon:
            why = "abandoned (`flow cleanup --abandon`): never to be resumed"
            given_up = [flow_id for flow_id in store.unfinished() if store.abandon(flow_id, why)]
        api = connect(settings.docker_url, settings.docker_timeout)
        try:
            containers = labels.sweep_orphans(api, store.store_id)
            swept = sweep_job_leftovers(api, store)
        finally:
            api.close()
    finally:
        store.close()
    lines = [f"gave up {len(given_up)} unfinished flow(s): {', '.join(given_up)}"] if given_up else []
    if containers:
        lines.append(f"removed {len(containers)} container(s) of runners that are gone")
    lines += [swept.summary()] if swept.summary() else []
    for line in lines or ["nothing to clean up"]:
        print(line)
    for problem in swept.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if swept.problems:
        raise typer.Exit(1)
