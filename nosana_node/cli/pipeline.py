"""`nosana-node pipeline`: validate and run Nosana pipelines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nosana_node.cli import running

if TYPE_CHECKING:
    from nosana_node.pipeline.problems import Problem

app = typer.Typer(help="Validate and run Nosana pipelines.", no_args_is_help=True)


STRICT = typer.Option(False, "--strict", help="Treat warnings as errors (exit 2).")


def _print(problems: list[Problem]) -> None:
    """One ``error:`` / ``warning:`` line per problem on stderr, masked, in file order."""
    from nosana_node.secrets.masking import process_masker

    for problem in problems:
        print(f"{problem.label}: {process_masker().mask(str(problem))}", file=sys.stderr)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Pipeline file (YAML).", show_default=False),
    json_out: bool = typer.Option(False, "--json", help="Print the result (and the compiled flow) as JSON."),
    strict: bool = STRICT,
) -> None:
    """Check a pipeline: every problem with file, line, column and key path (exit 2 when invalid).

    Keys the original Nosana node ignored are warnings (exit 0); --strict makes them errors.
    """
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
        noted = (
            f" · {len(doc.warnings)} warning{'s' if len(doc.warnings) != 1 else ''}" if doc.warnings else ""
        )
        print(f"{file}: valid · {len(jobs)} job{'s' if len(jobs) != 1 else ''}: {' → '.join(jobs)}{noted}")


def _lines(problems: list[Problem]) -> list[str]:
    from nosana_node.secrets.masking import process_masker

    return [process_masker().mask(str(p)) for p in problems]


@app.command()
def run(
    file: Path = typer.Argument(..., help="Pipeline file (YAML).", show_default=False),
    json_out: bool = running.JSON,
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        help="Directory placed at every job's work dir first (the `checkout` resource) [default: the"
        " pipeline's top-level trigger {repo, commit-sha} if it has one, else nothing].",
    ),
    strict: bool = STRICT,
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
        lambda runner: runner.prepare_pipeline(file, workspace=workspace, fresh=fresh, strict=strict),
        json_out=json_out,
        context=running.parse_context(context),
    )
