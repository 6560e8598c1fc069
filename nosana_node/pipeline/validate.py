"""Validation of a loaded pipeline: schema errors and cross-job rules, as positioned problems.

Every problem is reported at once, in file order, as ``file:line:col: key.path: message``; an
unknown key or value gets the nearest valid one suggested.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from nosana_node.pipeline.loader import Document, render_path
from nosana_node.pipeline.problems import Problem, ProblemList, suggest
from nosana_node.pipeline.schema import Pipeline

EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes inside an annotation (through Annotated, unions, lists, dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _child(annotation: Any, part: str | int) -> Any:
    """The annotation of ``part`` inside a value annotated ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _child(typing.get_args(annotation)[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _child(arg, part)
            if found is not None:
                return found
        return None
    if isinstance(part, int) and origin is list:
        return typing.get_args(annotation)[0]
    if isinstance(part, str) and origin is dict:
        return typing.get_args(annotation)[1]
    if isinstance(part, str):
        for model in _models_in(annotation):
            found = _field(model, part)
            if found is not None:
                return found
    return None


def allowed_keys(path: tuple[str | int, ...]) -> list[str]:
    """The keys the schema allows in the mapping at ``path``."""
    annotation: Any = Pipeline
    for part in path:
        annotation = _child(annotation, part)
        if annotation is None:
            return []
    models = _models_in(annotation)
    if not models:
        return []
    return [info.alias or name for name, info in models[0].model_fields.items()]


def _problem(doc: Document, error: dict[str, Any]) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("~")))
    on_key = bool(loc) and loc[-1] == "[key]"
    if on_key:
        loc = loc[:-1]
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        message = f"unknown key {key!r}{suggest(key, allowed_keys(loc[:-1]))}"
        return Problem(doc.file, doc.mark(loc, key=True), render_path(loc), message)
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
        return Problem(doc.file, doc.mark(loc[:-1]), render_path(loc), message)
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '\"") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        message = f"must be {expected}, got {_describe(value)}"
        if isinstance(value, str):
            message += suggest(value, choices)
    elif kind in EXPECTED:
        message = f"expected {EXPECTED[kind]}, got {_describe(value)}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            message += " (quote it to make it a string)"
    elif kind == "too_short":
        message = "must not be empty"
    elif kind == "value_error":
        message = error["msg"].removeprefix("Value error, ")
    else:
        message = error["msg"]
    return Problem(doc.file, doc.mark(loc, key=on_key), render_path(loc), message)


def _cross_checks(doc: Document, pipeline: Pipeline) -> list[Problem]:
    problems = []
    producers: dict[str, str] = {}  # artifact name -> job that made it last
    all_artifacts: dict[str, str] = {
        job_art.name: job.name for job in pipeline.jobs for job_art in job.artifacts
    }
    seen_names: set[str] = set()
    for i, job in enumerate(pipeline.jobs):
        if job.name in seen_names:
            path = ("jobs", i, "name")
            problems.append(
                Problem(doc.file, doc.mark(path), render_path(path), f"duplicate job name {job.name!r}")
            )
        seen_names.add(job.name)
        for j, resource in enumerate(job.resources):
            if resource.name in producers:
                continue
            path = ("jobs", i, "resources", j, "name")
            later = all_artifacts.get(resource.name)
            if later is not None:
                message = f"artifact {resource.name!r} is made by job {later!r}, which runs later"
            else:
                message = (
                    f"no earlier job makes an artifact {resource.name!r}{suggest(resource.name, producers)}"
                )
            problems.append(Problem(doc.file, doc.mark(path), render_path(path), message))
        names: set[str] = set()
        for j, artifact in enumerate(job.artifacts):
            if artifact.name in names:
                path = ("jobs", i, "artifacts", j, "name")
                problems.append(
                    Problem(
                        doc.file,
                        doc.mark(path),
                        render_path(path),
                        f"duplicate artifact name {artifact.name!r}",
                    )
                )
            names.add(artifact.name)
            producers[artifact.name] = job.name
    return problems


def validate(doc: Document) -> Pipeline:
    """The validated pipeline, or :class:`ProblemList` with every problem found."""
    if not isinstance(doc.data, dict):
        raise ProblemList(
            [
                Problem(
                    doc.file,
                    doc.mark(()),
                    "",
                    f"expected a mapping with 'global' and 'jobs', got {_describe(doc.data)}",
                )
            ]
        )
    try:
        pipeline = Pipeline.model_validate(doc.data)
    except ValidationError as exc:
        raise ProblemList(_problem(doc, e) for e in exc.errors(include_url=False)) from None
    problems = _cross_checks(doc, pipeline)
    if problems:
        raise ProblemList(problems)
    return pipeline
