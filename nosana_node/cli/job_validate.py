"""`nosana-node job validate FILE`: check a job definition (JSON or YAML) or a pipeline.

The file's format is found from its content: a job definition v0.1 or a Nosana pipeline; the
verdict line says which (and, for a job definition, JSON or YAML). Problems go to stderr as
``error: file:line:col: key.path: message``, warnings as ``warning: …``; exit 2 when invalid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from nosana_node.cli import options


def register(group: typer.Typer) -> None:
    """Add ``validate`` to the ``job`` command group."""
    group.command("validate")(validate)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def validate(
    file: Path = typer.Argument(
        ..., help="Job definition (JSON or YAML) or pipeline file.", show_default=False
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    strict: bool = options.flag("--strict", help="Treat warnings as errors (exit 2)."),
) -> None:
    """Check a job definition or a pipeline: every problem with file, line, column and key path."""
    from nosana_node.formats import PIPELINE, detect
    from nosana_node.jobdef.source import load_source
    from nosana_node.pipeline.problems import ProblemList

    try:
        doc, fmt = load_source(file)
    except ProblemList as exc:
        _report_invalid(file, "file", None, exc.lines, [], json_out)
        return
    if detect(doc.data) == PIPELINE:
        _pipeline(file, json_out, strict)
    else:
        _job_definition(file, doc, fmt, json_out, strict)


def _report_invalid(
    file: Path, kind: str, syntax: str | None, problems: list[str], warnings: list[str], json_out: bool
) -> None:
    if json_out:
        verdict = {"file": str(file), "kind": kind, "syntax": syntax, "valid": False}
        print(json.dumps({**verdict, "problems": problems, "warnings": warnings}, indent=2))
    options.print_problems(problems)
    _print_warnings(warnings)
    if not json_out and kind != "file":
        print(
            f"{file}: invalid {kind}{f' ({syntax})' if syntax else ''}: {_plural(len(problems), 'problem')}"
        )
    raise typer.Exit(2)


def _print_warnings(lines: list[str]) -> None:
    import sys

    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _job_definition(file: Path, doc: Any, fmt: str, json_out: bool, strict: bool) -> None:
    from nosana_node.jobdef import JobProblems, validate_document

    syntax = fmt.upper()
    try:
        job = validate_document(doc, fmt)  # type: ignore[arg-type]
    except JobProblems as exc:
        _report_invalid(file, "job definition", syntax, exc.lines, [str(w) for w in exc.warnings], json_out)
        return
    warnings = [str(w) for w in job.warnings]
    if strict and warnings:
        _report_invalid(file, "job definition", syntax, warnings, [], json_out)
    groups = [{"name": g.name, "ops": list(g.ops)} for g in job.plan.groups]
    if json_out:
        verdict = {"file": str(file), "kind": "job definition", "syntax": syntax, "valid": True}
        print(json.dumps({**verdict, "groups": groups, "warnings": warnings}, indent=2))
    else:
        ops = len(job.definition.ops)
        plan = " → ".join(f"{g['name']} [{', '.join(g['ops'])}]" for g in groups)
        print(
            f"{file}: valid job definition ({syntax}, version {job.definition.version}) · "
            f"{_plural(ops, 'op')} in {_plural(len(groups), 'group')}" + (f": {plan}" if plan else "")
        )
    _print_warnings(warnings)


def _pipeline(file: Path, json_out: bool, strict: bool) -> None:
    from nosana_node.pipeline import load
    from nosana_node.pipeline.problems import ProblemList

    try:
        doc, pipeline = load(file, strict=strict)
    except ProblemList as exc:
        _report_invalid(file, "pipeline", "YAML", exc.lines, [str(w) for w in exc.warnings], json_out)
        return
    jobs = [job.name for job in pipeline.jobs]
    warnings = [str(w) for w in doc.warnings]
    if json_out:
        verdict = {"file": str(file), "kind": "pipeline", "syntax": "YAML", "valid": True}
        print(json.dumps({**verdict, "jobs": jobs, "warnings": warnings}, indent=2))
    else:
        print(f"{file}: valid pipeline (YAML) · {_plural(len(jobs), 'job')}: {' → '.join(jobs)}")
    _print_warnings(warnings)
