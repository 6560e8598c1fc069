"""pydantic's validation errors for a job definition as positioned, one-line problems.

A path keeps the union tags (``~run``, ``~http`` …) pydantic puts in it until the message is
made: they say which variant was checked, so an unknown key gets the keys of that variant
suggested. They are dropped from the path shown to the user.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from nosana_node.pipeline.loader import Document, Path_, render_path
from nosana_node.pipeline.problems import Problem, suggest
from nosana_node.pipeline.validate import EXPECTED as PIPELINE_EXPECTED
from nosana_node.pipeline.validate import _describe as describe

EXPECTED = {
    **PIPELINE_EXPECTED,
    "number_type": "a number",
    "str_or_list": "a string or a list of strings",
    "scalar_type": "a string or a number",
    "port_kind": "a port or a range 'start-end'",
    "result_kind": "a regex string or {regex, logType}",
}
#: Keys people write that the format spells otherwise.
HINTS = {
    "ports": " (exposed ports are 'expose': a port, a range 'start-end' or [{port, health_checks}])",
    "environment": " (the format calls it 'env')",
    "healthcheck": " (health checks go in 'expose': [{port, health_checks: [{type: http, …}]}])",
    "health_check": " (health checks go in 'expose': [{port, health_checks: [{type: http, …}]}])",
    "restart_policy": (
        " (refused as @nosana/sdk 0.4.69 refuses it, though newer @nosana/types accept it:"
        " this node never restarts a job's container)"
    ),
}
#: Discriminated unions whose tag is a ``type`` key: the error is about that key.
TYPE_TAGGED = {
    "op_kind": ("container/run", "container/create-volume"),
    "health_check_kind": ("http", "websocket"),
}


def _members(annotation: Any) -> list[tuple[str | None, Any]]:
    """``(tag, annotation)`` of each member of a union (one untagged member otherwise)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        tags = [m.tag for m in metadata if type(m).__name__ == "Tag"]
        found = _members(inner)
        if tags and len(found) == 1:
            return [(tags[0], found[0][1])]
        return found
    if origin in (typing.Union, types.UnionType):
        out: list[tuple[str | None, Any]] = []
        for arg in typing.get_args(annotation):
            out.extend(_members(arg))
        return out
    return [(None, annotation)]


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation found at ``part`` inside a value annotated ``annotation``."""
    members = _members(annotation)
    if isinstance(part, str) and part.startswith("~"):
        return next((a for tag, a in members if tag == part), None)
    for _, member in members:
        origin = typing.get_origin(member)
        if isinstance(part, int) and origin is list:
            return typing.get_args(member)[0]
        if isinstance(part, str) and origin is dict:
            return typing.get_args(member)[1]
        if isinstance(part, str) and isinstance(member, type) and issubclass(member, BaseModel):
            for name, info in member.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
    return None


def allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (union tags included) below ``root``."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    for _, member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return [info.alias or name for name, info in member.model_fields.items()]
    return []


def _plain(loc: tuple[Any, ...]) -> Path_:
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("~")))


def _choices(expected: str) -> list[str]:
    return [c.strip(" '\"") for c in expected.replace(" or ", ",").split(",") if c.strip()]


def problem(doc: Document, root: type[BaseModel], error: dict[str, Any]) -> Problem:
    """One problem for one pydantic error."""
    raw = tuple(error["loc"])
    loc = _plain(raw)
    kind = error["type"]
    value = error.get("input")

    def at(path: Path_, message: str, key: bool = False) -> Problem:
        return Problem(doc.file, doc.mark(path, key=key), render_path(path), message)

    if kind == "extra_forbidden":
        key = str(loc[-1])
        near = difflib.get_close_matches(key, list(HINTS), n=1, cutoff=0.8)
        hint = HINTS[near[0]] if near else suggest(key, allowed_keys(root, raw[:-1]))
        return at(loc, f"unknown key {key!r}{hint}", key=True)
    if kind == "missing":
        return at(loc, f"missing required key {loc[-1]!r}", key=True)
    if kind in TYPE_TAGGED:
        choices = TYPE_TAGGED[kind]
        wanted = " or ".join(repr(c) for c in choices)
        if not isinstance(value, dict):
            return at(loc, f"expected a mapping, got {describe(value)}")
        if "type" not in value:
            return at((*loc, "type"), f"missing required key 'type' ({wanted})", key=True)
        got = value["type"]
        hint = suggest(got, choices) if isinstance(got, str) else ""
        return at((*loc, "type"), f"must be {wanted}, got {describe(got)}{hint}")
    if kind == "resource_kind":
        message = "expected a resource {type: S3 | HF | Ollama, …} or '__remove-if-empty__'"
        return at(loc, f"{message}, got {describe(value)}")
    if kind == "expose_kind":
        return at(loc, f"{error['msg']}, got {describe(value)}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"must be {expected}, got {describe(value)}"
        if isinstance(value, str):
            message += suggest(value, _choices(expected))
        return at(loc, message)
    if kind in EXPECTED:
        message = f"expected {EXPECTED[kind]}, got {describe(value)}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            message += " (quote it to make it a string)"
        return at(loc, message)
    if kind in ("greater_than_equal", "less_than_equal"):
        return at(loc, f"port {value} is out of range (1-65535)")
    if kind == "too_short":
        return at(loc, "must not be empty" if loc[-1:] != ("volumes",) else "must name exactly one volume")
    if kind == "too_long":
        if loc[-1:] == ("volumes",):
            return at(loc, "at most one volume per op (@nosana/sdk 0.4.69 takes exactly one)")
        return at(loc, f"too many entries ({error.get('ctx', {}).get('max_length', '?')} at most)")
    if kind == "value_error":
        return at(loc, error["msg"].removeprefix("Value error, "))
    return at(loc, error["msg"])
