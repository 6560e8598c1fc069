"""Literals: ``%%global.job%%``, ``%%ops.<id>.results.<key>%%`` … inside job definition strings.

A literal is replaced when its op starts (phase 2 compiles each into a symbolic reference).
Here they are found and parsed, so validation can check that each names something that exists
and is known by the time the op starts. Text between ``%%`` that does not start with ``ops.`` or
``global.`` is not a literal (a shell's ``printf '%%d'`` stays as written).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from nosana_node.pipeline.loader import Path_

#: One literal inside a string: what the SDK's ``LiteralString`` accepts, found anywhere.
FIND = re.compile(r"%%((?:ops|global)\.[^%]+)%%")
GLOBALS = ("job", "host", "project")

Kind = Literal["global", "variable", "op-host", "op-result", "unknown"]


@dataclass(frozen=True)
class LiteralRef:
    """A parsed literal: its text and what it names.

    ``kind`` is ``global`` (``name`` is job, host or project), ``variable`` (``name`` is the
    variable), ``op-host`` (``op`` is the op id), ``op-result`` (``op`` and ``name``, the result
    key), or ``unknown`` (a literal the node does not know).
    """

    text: str
    kind: Kind
    op: str = ""
    name: str = ""


def parse(body: str) -> LiteralRef:
    """Parse the inside of ``%%…%%`` (``ops.x.results.y``)."""
    text = f"%%{body}%%"
    parts = body.split(".")
    if parts[0] == "global":
        if len(parts) == 2 and parts[1] in GLOBALS:
            return LiteralRef(text, "global", name=parts[1])
        if len(parts) >= 3 and parts[1] == "variables":
            return LiteralRef(text, "variable", name=".".join(parts[2:]))
        return LiteralRef(text, "unknown")
    if len(parts) == 3 and parts[2] == "host":
        return LiteralRef(text, "op-host", op=parts[1])
    if len(parts) >= 4 and parts[2] == "results":
        return LiteralRef(text, "op-result", op=parts[1], name=".".join(parts[3:]))
    return LiteralRef(text, "unknown", op=parts[1] if len(parts) > 1 else "")


def find(text: str) -> list[LiteralRef]:
    """Every literal in ``text``, in order."""
    return [parse(m.group(1)) for m in FIND.finditer(text)]


def walk(value: Any, path: Path_) -> Iterator[tuple[Path_, LiteralRef]]:
    """``(path, literal)`` for every literal in the strings of ``value`` (keys included)."""
    if isinstance(value, str):
        for ref in find(value):
            yield path, ref
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "%%" in key:
                for ref in find(key):
                    yield (*path, key), ref
            yield from walk(item, (*path, key))
