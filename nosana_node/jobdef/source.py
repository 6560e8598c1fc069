"""Reading a job definition: JSON or YAML to plain data plus the line and column of every value.

YAML goes through the pipeline loader (positions, duplicate keys, bounded composition). JSON is
read by a small scanner of its own that keeps the position of each value and key, since the
standard ``json`` module keeps none; its data is what ``JSON.parse`` gives (a repeated key keeps
its last value, and is reported as a warning). Input is bounded: the file is read by the pipeline
loader's ``read_text`` (size cap, no directories), and the scanner caps values and nesting.
"""

from __future__ import annotations

import bisect
import json
import re
from pathlib import Path
from typing import Any, Literal

from nosana_node.pipeline.loader import (
    MAX_DEPTH,
    MAX_NODES,
    Document,
    Path_,
    load_text,
    read_text,
    render_path,
)
from nosana_node.pipeline.problems import Mark, Problem, ProblemList

Format = Literal["json", "yaml"]
#: Most values in one JSON document (the YAML loader's node budget: the largest job definition
#: of the corpus has 179), and the deepest nesting (the loader's too).
MAX_VALUES = MAX_NODES

_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORDS = {"true": True, "false": False, "null": None}
_scan_string = json.decoder.scanstring  # type: ignore[attr-defined]
# A YAML stream with something besides comments, blank lines and document markers.
_YAML_CONTENT = re.compile(r"^(?!\s*(#|---\s*$|\.\.\.\s*$))\s*\S", re.MULTILINE)


def detect_format(file: Path, text: str) -> Format:
    """``json`` for a ``.json`` file, ``yaml`` for ``.yaml``/``.yml``, else by the first character."""
    suffix = file.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


class _JsonError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class _JsonScanner:
    """Recursive descent over JSON text, recording where each path's value and key start."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[Path_, int] = {}
        self.keys: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int]] = []
        self.count = 0

    def document(self) -> Any:
        pos = _SPACE.match(self.text, 0).end()
        value, pos = self.value(pos, ())
        pos = _SPACE.match(self.text, pos).end()
        if pos != len(self.text):
            raise _JsonError(pos, "unexpected text after the JSON value")
        return value

    def value(self, pos: int, path: Path_) -> tuple[Any, int]:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _JsonError(pos, f"document too large (over {MAX_VALUES} values)")
        if len(path) > MAX_DEPTH:
            raise _JsonError(pos, f"nested too deeply (over {MAX_DEPTH} levels)")
        self.values[path] = pos
        text = self.text
        char = text[pos : pos + 1]
        if char == "{":
            return self.obj(pos + 1, path)
        if char == "[":
            return self.array(pos + 1, path)
        if char == '"':
            return self.string(pos)
        for word, result in _WORDS.items():
            if text.startswith(word, pos):
                return result, pos + len(word)
        match = _NUMBER.match(text, pos)
        if match and match.end() > pos:
            number = match.group()
            is_float = match.group(1) or match.group(2)
            return (float(number) if is_float else int(number)), match.end()
        if not char:
            raise _JsonError(pos, "unexpected end of file: expected a value")
        raise _JsonError(pos, f"expected a value, got {char!r}")

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return _scan_string(self.text, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise _JsonError(exc.pos, exc.msg.lower()) from None

    def obj(self, pos: int, path: Path_) -> tuple[dict[str, Any], int]:
        text = self.text
        result: dict[str, Any] = {}
        pos = _SPACE.match(text, pos).end()
        if text[pos : pos + 1] == "}":
            return result, pos + 1
        while True:
            if text[pos : pos + 1] != '"':
                raise _JsonError(pos, "expected a key in double quotes")
            key_pos = pos
            key, pos = self.string(pos)
            child = (*path, key)
            if key in result:
                self.duplicates.append((child, key_pos))
            self.keys[child] = key_pos
            pos = _SPACE.match(text, pos).end()
            if text[pos : pos + 1] != ":":
                raise _JsonError(pos, "expected ':' after a key")
            pos = _SPACE.match(text, pos + 1).end()
            result[key], pos = self.value(pos, child)
            pos = _SPACE.match(text, pos).end()
            char = text[pos : pos + 1]
            if char == "}":
                return result, pos + 1
            if char != ",":
                raise _JsonError(pos, "expected ',' or '}'")
            pos = _SPACE.match(text, pos + 1).end()

    def array(self, pos: int, path: Path_) -> tuple[list[Any], int]:
        text = self.text
        result: list[Any] = []
        pos = _SPACE.match(text, pos).end()
        if text[pos : pos + 1] == "]":
            return result, pos + 1
        while True:
            value, pos = self.value(pos, (*path, len(result)))
            result.append(value)
            pos = _SPACE.match(text, pos).end()
            char = text[pos : pos + 1]
            if char == "]":
                return result, pos + 1
            if char != ",":
                raise _JsonError(pos, "expected ',' or ']'")
            pos = _SPACE.match(text, pos + 1).end()


class _Lines:
    """Offsets → 1-based line and column."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def mark(self, pos: int) -> Mark:
        line = bisect.bisect_right(self.starts, pos) - 1
        return Mark(line + 1, pos - self.starts[line] + 1)


def load_json_text(text: str, file: str) -> Document:
    """Parse JSON ``text`` into a :class:`Document`; duplicate keys become warnings."""
    scanner = _JsonScanner(text)
    lines = _Lines(text)
    try:
        data = scanner.document()
    except _JsonError as exc:
        raise ProblemList(
            [Problem(file, lines.mark(exc.pos), "", f"JSON syntax error: {exc.message}")]
        ) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps far below the limit
        raise ProblemList([Problem(file, None, "", "JSON nested too deeply")]) from None
    doc = Document(
        file=file,
        text=text,
        data=data,
        values={path: lines.mark(pos) for path, pos in scanner.values.items()},
        keys={path: lines.mark(pos) for path, pos in scanner.keys.items()},
    )
    doc_warnings(doc).extend(
        Problem(
            file, lines.mark(pos), render_path(path), f"duplicate key {path[-1]!r}: the last value counts"
        )
        for path, pos in scanner.duplicates
    )
    return doc


def doc_warnings(doc: Document) -> list[Problem]:
    """The warnings list of ``doc`` (the loader's own when it keeps one)."""
    existing = getattr(doc, "warnings", None)
    if isinstance(existing, list):
        return existing
    doc.warnings = []  # type: ignore[attr-defined]
    return doc.warnings  # type: ignore[attr-defined]


def parse_text(text: str, name: str, fmt: Format) -> Document:
    """Parse in-memory ``text`` (named ``name`` in messages) in the given format."""
    if not text.strip() or (fmt == "yaml" and not _YAML_CONTENT.search(text)):
        what = "JSON" if fmt == "json" else "YAML"
        raise ProblemList([Problem(name, Mark(1, 1), "", f"empty file: expected a job definition ({what})")])
    return load_json_text(text, name) if fmt == "json" else load_text(text, name)


def load_source(file: Path) -> tuple[Document, Format]:
    """Read ``file`` and parse it as JSON or YAML (see :func:`detect_format`)."""
    text = read_text(file)
    fmt = detect_format(file, text)
    return parse_text(text, str(file), fmt), fmt
