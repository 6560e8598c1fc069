"""`nosana-node pipeline`: validate and run Nosana pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nosana_node.cli import running
from nosana_node.terminal import neutralise

app = typer.Typer(help="Validate and run Nosana pipelines.", no_args_is_help=True)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Pipeline file (YAML).", show_default=False),
    json_out: bool = typer.Option(False, "--json", help="Print the result (and the compiled flow) as JSON."),
) -> None:
    """Check a pipeline: every problem with file, line, column and key path (exit 2 when invalid)."""
    from nosana_node.pipeline import load
    from nosana_node.pipeline.compile import compile_pipeline
    from nosana_node.pipeline.problems import ProblemList

    try:
        _, pipeline = load(file)
    except ProblemList as exc:
        if json_out:
            print(json.dumps({"file": str(file), "valid": False, "problems": exc.lines}, indent=2))
        running.print_problems(exc.lines)
        raise typer.Exit(2) from None
    flow = compile_pipeline(pipeline, name=file.stem)
    jobs = [job.name for job in pipeline.jobs]
    if json_out:
        print(
            json.dumps({"file": str(file), "valid": True, "jobs": jobs, "flow": flow.plan_json()}, indent=2)
        )
    else:
        count = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
        print(neutralise(f"{file}: valid · {count}: {' → '.join(jobs)}"))


@app.command()
def run(
    file: Path = typer.Argument(..., help="Pipeline file (YAML).", show_default=False),
    json_out: bool = running.JSON,
    workspace: Path | None = typer.Option(
        None, "--workspace", help="Directory placed at every job's work dir first (the `checkout` resource)."
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start a new flow even if an earlier run of this pipeline did not finish."
    ),
    home: Path | None = running.HOME,
    docker_url: str | None = running.DOCKER_URL,
    pull: str | None = running.PULL,
    timeout: str | None = running.TIMEOUT,
    cpus: str | None = running.CPUS,
    memory: str | None = running.MEMORY,
    pids: str | None = running.PIDS,
    log_cap: str | None = running.LOG_CAP,
    artifact_cap: str | None = running.ARTIFACT_CAP,
    gpus: str | None = running.GPUS,
    network: str | None = running.NETWORK,
    context: list[str] | None = running.CONTEXT,
) -> None:
    """Run a pipeline on the Docker engine: live logs per job, exit 0 on success, 1 on failure.

    An earlier run of the same pipeline that did not finish (crash, Ctrl-C) is resumed: jobs
    that finished are not run again. Use --fresh to start over.
    """
    settings = running.settings_from_flags(
        home, docker_url, pull, timeout, cpus, memory, pids, log_cap, artifact_cap, gpus, network
    )
    running.run_with_display(
        settings,
        lambda runner: runner.prepare_pipeline(file, workspace=workspace, fresh=fresh),
        json_out=json_out,
        context=running.parse_context(context),
    )
