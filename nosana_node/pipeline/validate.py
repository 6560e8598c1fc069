"""Validation of a loaded pipeline: shape, values and rules across jobs, as positioned problems.

The data is first brought to its canonical form (:mod:`~nosana_node.pipeline.normalize`,
which warns about what the original node ignored), then checked by the schema, and the rules
across jobs (duplicate names, resources and the artifacts that feed them, paths outside the
work dir) run on the canonical data whatever shape errors exist elsewhere: every problem is
reported at once, in file order, as ``file:line:col: key.path: message``, with the nearest
valid key or value suggested.
"""

from __future__ import annotations

import posixpath
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from nosana_node.pipeline.loader import Document, render_path
from nosana_node.pipeline.normalize import normalize
from nosana_node.pipeline.problems import Problem, ProblemList, in_order, suggest
from nosana_node.pipeline.schema import DEFAULT_WORK_DIR, Pipeline, job_path

CHECKOUT = "checkout"  # the built-in artifact: the workspace or repository checkout

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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return (
        [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )


class _Checks:
    """Rules across jobs, on the canonical data: they run whatever shape errors exist elsewhere."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: tuple[str | int, ...], message: str, warning: bool = False) -> None:
        self.problems.append(Problem(self.doc.file, self.doc.mark(path), render_path(path), message, warning))

    def run(self, data: dict[str, Any]) -> list[Problem]:
        jobs = _items(data.get("jobs"))
        made_by: dict[str, str] = {}  # artifact -> the first job making it
        for i, job in jobs:
            for _, artifact in _items(job.get("artifacts")):
                if (name := _text(artifact.get("name"))) is not None:
                    made_by.setdefault(name, _text(job.get("name")) or f"#{i + 1}")
        producers: set[str] = {CHECKOUT}
        seen_names: set[str] = set()
        for i, job in jobs:
            name = _text(job.get("name"))
            label = name or f"#{i + 1}"
            if name is not None:
                if name in seen_names:
                    self.add(("jobs", i, "name"), f"duplicate job name {name!r}")
                seen_names.add(name)
            work_dir = job.get("work_dir")
            if not isinstance(work_dir, str) or not work_dir.startswith("/") or ".." in work_dir.split("/"):
                work_dir = DEFAULT_WORK_DIR
            for j, resource in _items(job.get("resources")):
                self._path(("jobs", i, "resources", j, "path"), resource.get("path"), work_dir)
                self._resource(("jobs", i, "resources", j), resource, label, producers, made_by)
            names: set[str] = set()
            for j, artifact in _items(job.get("artifacts")):
                paths = artifact.get("paths")
                for k, path in enumerate(paths if isinstance(paths, list) else []):
                    self._path(("jobs", i, "artifacts", j, "paths", k), path, work_dir)
                artifact_name = _text(artifact.get("name"))
                if artifact_name is None:
                    continue
                if artifact_name in names:
                    self.add(
                        ("jobs", i, "artifacts", j, "name"), f"duplicate artifact name {artifact_name!r}"
                    )
                names.add(artifact_name)
            producers |= names
        return self.problems

    def _resource(
        self,
        path: tuple[str | int, ...],
        resource: dict[str, Any],
        job: str,
        producers: set[str],
        made_by: dict[str, str],
    ) -> None:
        name = _text(resource.get("name"))
        if name is None or name in producers:
            return
        optional = resource.get("required") is False
        if name in made_by:
            when = "this job" if made_by[name] == job else f"job {made_by[name]!r}, which runs later"
            message = f"artifact {name!r} is made by {when}"
            self.add(
                (*path, "name"), f"{message}; skipped (required: false)" if optional else message, optional
            )
            return
        near = suggest(name, producers)
        if optional:
            self.add(
                (*path, "name"), f"no job makes an artifact {name!r}{near}; skipped (required: false)", True
            )
        else:
            message = f"no job makes an artifact {name!r}{near}; the job will fail when it starts"
            self.add((*path, "name"), message, True)

    def _path(self, path: tuple[str | int, ...], value: Any, work_dir: str) -> None:
        if not isinstance(value, str) or not value.startswith("/"):
            return
        try:
            job_path(value)
        except ValueError:
            return  # the schema refuses it
        clean = posixpath.normpath(value)
        root = posixpath.normpath(work_dir)
        if clean == root or clean.startswith(root.rstrip("/") + "/"):
            return
        self.add(path, f"{value!r} is outside the work dir {root}; it names that path in the container", True)


def validate(doc: Document, strict: bool = False) -> Pipeline:
    """The validated pipeline (its warnings in ``doc.warnings``), or :class:`ProblemList` with
    every error and warning found. ``strict`` makes every warning an error."""
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
    data, warnings, errors = normalize(doc)
    pipeline: Pipeline | None = None
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        errors.extend(_problem(doc, e) for e in exc.errors(include_url=False))
    for problem in _Checks(doc).run(data):
        (warnings if problem.warning else errors).append(problem)
    if strict:
        errors.extend(w.as_error() for w in warnings)
        warnings = []
    if errors or pipeline is None:
        raise ProblemList([*errors, *warnings])
    doc.warnings = in_order(warnings)
    return pipeline
