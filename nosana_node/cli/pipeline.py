"""`nosana-node pipeline`: validate and run Nosana pipelines."""

from __future__ import annotations

import json
import sys
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
    from nosana_node.pipeline.problems import Problem

app = typer.Typer(help="Validate and run Nosana pipelines.", no_args_is_help=True)

STRICT = options.flag("--strict", help="Treat warnings (keys the original node ignored …) as errors, exit 2.")


def _lines(problems: list[Problem]) -> list[str]:
    from nosana_node.secrets.masking import process_masker

    return [process_masker().mask(str(p)) for p in problems]


def _print(problems: list[Problem]) -> None:
    """One ``error:`` / ``warning:`` line per problem on stderr, masked and made inert, in file
    order."""
    for problem, line in zip(problems, _lines(problems), strict=True):
        print(f"{problem.label}: {neutralise(line)}", file=sys.stderr)


@app.command()
def validate(
    file: Path = typer.Argument(..., metavar="FILE", help="Pipeline file (YAML).", show_default=False),
    json_out: bool = options.flag("--json", help="Print the result (and the compiled flow) as JSON."),
    strict: bool = STRICT,
) -> None:
    """Check a pipeline: every problem with file, line, column and key path (exit 2 when invalid).

    Keys the original Nosana node ignored are warnings (exit 0); --strict makes them errors.
    """
    from nosana_node import wiring
    from nosana_node.pipeline import load
    from nosana_node.pipeline.compile import compile_pipeline
    from nosana_node.pipeline.problems import ProblemList

    try:
        doc, pipeline = load(file, strict=strict)
    except ProblemList as exc:
        if json_out:
            result = {
                "file": str(file),
                "valid": False,
                "problems": exc.lines,
                "warnings": _lines(exc.warnings),
            }
            print(json.dumps(result, indent=2))
        _print(exc.problems)
        raise typer.Exit(2) from None
    _print(doc.warnings)
    flow = compile_pipeline(pipeline, name=file.stem)
    problems = wiring.op_types().problems(flow)
    if problems:  # the compiler made a flow the op types refuse: a bug, said plainly
        raise NosanaError(f"{file}: the compiled flow is not runnable: {'; '.join(problems)}")
    jobs = [job.name for job in pipeline.jobs]
    if json_out:
        result = {
            "file": str(file),
            "valid": True,
            "warnings": _lines(doc.warnings),
            "jobs": jobs,
            "flow": flow.plan_json(),
        }
        print(json.dumps(result, indent=2))
    else:
        count = len(doc.warnings)
        noted = f" · {count} warning{'s' if count != 1 else ''}" if count else ""
        many = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
        print(neutralise(f"{file}: valid · {many}: {' → '.join(jobs)}{noted}"))


@app.command()
def run(
    file: Path = typer.Argument(..., metavar="FILE", help="Pipeline file (YAML).", show_default=False),
    json_out: bool = options.JSON,
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        metavar="DIR",
        help="Directory placed at every job's work dir first (the `checkout` resource). [default: the"
        " pipeline's top-level trigger {repo, commit-sha} if it has one, else none]",
        show_default=False,
    ),
    strict: bool = STRICT,
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
    that finished are not run again. Use --fresh to start over. Warnings go to stderr first.
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
        prepared = prepare_pipeline(
            file, runner.store, workspace=workspace, fresh=fresh, context=values, strict=strict
        )
        _print(prepared.warnings)
        return prepared.flow, prepared.resumed, prepared.source_key

    run_with_display(flags, prepare, json_out=json_out, context=values)
