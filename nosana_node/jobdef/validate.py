"""Validation of a loaded job definition: shape, then the rules across ops; every problem at once.

Problems are reported in file order as ``file:line:col: key.path: message`` (a :class:`ProblemList`,
exit code 2). A valid definition comes back as a :class:`ValidJob` with its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from nosana_node.jobdef.checks import check
from nosana_node.jobdef.errors import describe, problem
from nosana_node.jobdef.plan import ExecutionPlan, build_plan
from nosana_node.jobdef.schema import JobDefinition
from nosana_node.jobdef.source import Format, doc_warnings, load_source, parse_text
from nosana_node.pipeline.loader import Document
from nosana_node.pipeline.problems import Problem, ProblemList


class JobProblems(ProblemList):
    """The problems of an invalid job definition; ``warnings`` holds what else was noticed."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        super().__init__([*problems, *(replace(w, warning=True) for w in warnings or [])])


@dataclass(frozen=True)
class ValidJob:
    """A valid job definition: the model, its plan, its source and the warnings found."""

    definition: JobDefinition
    plan: ExecutionPlan
    document: Document
    format: Format
    warnings: list[Problem] = field(default_factory=list)


def validate_document(doc: Document, fmt: Format) -> ValidJob:
    """Validate a parsed document; raises :class:`JobProblems` listing every problem."""
    warnings = list(doc_warnings(doc))
    if not isinstance(doc.data, dict):
        expected = "expected a mapping with 'version', 'type' and 'ops'"
        raise JobProblems(
            [Problem(doc.file, doc.mark(()), "", f"{expected}, got {describe(doc.data)}")], warnings
        )
    try:
        definition = JobDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise JobProblems(
            [problem(doc, JobDefinition, e) for e in exc.errors(include_url=False)], warnings
        ) from None
    plan = build_plan(definition)
    found = check(doc, definition, plan)
    warnings.extend(found.warnings)
    if found.errors:
        raise JobProblems(found.errors, warnings)
    return ValidJob(definition, plan, doc, fmt, sorted(warnings, key=Problem.sort_key))


def load(path: Path) -> ValidJob:
    """Read, parse (JSON or YAML) and validate a job definition file; raises :class:`JobProblems`."""
    try:
        doc, fmt = load_source(path)
    except JobProblems:
        raise
    except ProblemList as exc:
        raise JobProblems(exc.problems) from None
    return validate_document(doc, fmt)


def loads(text: str, name: str = "<job definition>", fmt: Format = "json") -> ValidJob:
    """Parse and validate a job definition held in memory (e.g. fetched from IPFS)."""
    try:
        doc = parse_text(text, name, fmt)
    except ProblemList as exc:
        raise JobProblems(exc.problems) from None
    return validate_document(doc, fmt)
