"""`nosana-node job run FILE`: run a job definition (JSON or YAML) or a pipeline locally.

The format is found from the content (:func:`nosana_node.formats.detect`). A pipeline runs as
``pipeline run`` runs it. A job definition is validated, checked against this host's GPUs (a job
the host cannot serve is not run: one line naming what is missing, exit 1), compiled to a flow
and run with the same live display; ``--timeout`` is the job's time: services run until then
(or Ctrl-C) and ending so is a success. ``--json`` prints the result document (the official
node's flow state) on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nosana_node.cli import options
from nosana_node.cli.execute import run_with_display

if TYPE_CHECKING:
    from nosana_node.flow.model import Flow
    from nosana_node.flow.runner import FlowRunner


def register(group: typer.Typer) -> None:
    """Add ``run`` to the ``job`` command group."""
    group.command("run")(run)


def run(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="Job definition (JSON or YAML) or pipeline file.", show_default=False
    ),
    json_out: bool = options.JSON,
    home: Path | None = options.HOME,
    docker_url: str | None = options.DOCKER_URL,
    pull: str | None = options.PULL,
    timeout: str | None = options.TIMEOUT,
    cpus: str | None = options.CPUS,
    memory: str | None = options.MEMORY,
    pids: str | None = options.PIDS,
    log_cap: str | None = options.LOG_CAP,
    gpus: str | None = options.GPUS,
    network: str | None = options.NETWORK,
) -> None:
    """Run a job definition or a pipeline locally with live logs; exit 0 on success, 1 on failure.

    For a job definition --timeout is the job's time: services (ops with `expose`) run until
    then, or until Ctrl-C, and their URLs are shown once their health checks pass.
    """
    from nosana_node.formats import JOBDEF, detect
    from nosana_node.jobdef.source import load_source
    from nosana_node.pipeline.problems import ProblemList

    given = dict(
        home=home,
        docker_url=docker_url,
        pull=pull,
        timeout=timeout,
        cpus=cpus,
        memory=memory,
        pids=pids,
        log_cap=log_cap,
        gpus=gpus,
        network=network,
    )
    try:
        doc, _ = load_source(file)
    except ProblemList as exc:
        options.print_problems(exc.lines)
        raise typer.Exit(2) from None
    if detect(doc.data) != JOBDEF:
        from nosana_node.cli.pipeline import run as run_pipeline

        run_pipeline(
            file=file,
            json_out=json_out,
            workspace=None,
            strict=False,
            fresh=True,
            context=None,
            artifact_cap=None,
            **given,
        )  # type: ignore[arg-type]
        return
    _run_job_definition(file, json_out, options.config_flags(**given))


def _run_job_definition(file: Path, json_out: bool, flags: dict) -> None:  # type: ignore[type-arg]
    from nosana_node.jobdef import load
    from nosana_node.jobdef.compile import compile_job
    from nosana_node.jobdef.prepare import check_host
    from nosana_node.jobdef.result import flow_state

    def prepare(runner: FlowRunner) -> tuple[Flow, bool, str | None]:
        job = load(file)
        for warning in job.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        check_host(job, str(file))
        flow = compile_job(job, name=file.stem, source={"file": str(file.resolve())})
        return flow, False, None

    run_with_display(flags, prepare, json_out=json_out, job_deadline=True, result=flow_state)
