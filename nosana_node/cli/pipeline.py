"""`nosana-node pipeline`: validate and run Nosana pipelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nosana_node.cli import options
from nosana_node.cli.execute import run_with_display
from nosana_node.errors import NosanaError
from nosana_node.terminal import neutralise

if TYPE_CHECKING:
    from nosana_node.flow.model import Flow
    from nosana_node.flow.runner import FlowRunner

app = typer.Typer(help="Validate and run Nosana pipelines.", no_args_is_help=True)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Pipeline file (YAML).", show_default=False),
    json_out: bool = options.flag("--json", help="Print the result (and the compiled flow) as JSON."),
) -> None:
    """Check a pipeline: every problem with file, line, column and key path (exit 2 when invalid)."""
    from nosana_node import wiring
    from nosana_node.pipeline import load
    from nosana_node.pipeline.compile import compile_pipeline
    from nosana_node.pipeline.problems import ProblemList

    try:
        _, pipeline = load(file)
    except ProblemList as exc:
        if json_out:
            print(json.dumps({"file": str(file), "valid": False, "problems": exc.lines}, indent=2))
        options.print_problems(exc.lines)
        raise typer.Exit(2) from None
    flow = compile_pipeline(pipeline, name=file.stem)
    problems = wiring.op_types().problems(flow)
    if problems:  # the compiler made a flow the op types refuse: a bug, said plainly
        raise NosanaError(f"{file}: the compiled flow is not runnable: {'; '.join(problems)}")
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
    json_out: bool = options.JSON,
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        metavar="DIR",
        help="Directory placed at every job's work dir first (the `checkout` resource). [default: none]",
        show_default=False,
    ),
    fresh: bool = options.flag(
        "--fresh", help="Start a new flow even if an earlier run of this pipeline did not finish."
    ),
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
    context: list[str] | None = options.CONTEXT,
) -> None:
    """Run a pipeline on the Docker engine: live logs per job, exit 0 on success, 1 on failure.

    An earlier run of the same pipeline that did not finish (crash, Ctrl-C) is resumed: jobs
    that finished are not run again. Use --fresh to start over.
    """
    from nosana_node.pipeline.prepare import prepare_pipeline

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
    values = options.parse_context(context)

    def prepare(runner: FlowRunner) -> tuple[Flow, bool, str | None]:
        prepared = prepare_pipeline(file, runner.store, workspace=workspace, fresh=fresh, context=values)
        return prepared.flow, prepared.resumed, prepared.source_key

    run_with_display(flags, prepare, json_out=json_out, context=values)
