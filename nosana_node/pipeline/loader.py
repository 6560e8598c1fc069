"""Reading a pipeline file: YAML to plain data plus the line and column of every key and value.

Input is bounded before and while it is parsed, since strangers write these files:

- only a regular file is read (a FIFO, a device such as ``/dev/zero``, a socket are refused
  without reading), at most :data:`MAX_BYTES`, checked before reading and while reading;
- control characters (a NUL byte …) are refused with their line and column;
- libyaml scans and parses; the nodes are composed here, counted (:data:`MAX_NODES`, aliases
  included when they are expanded) and their nesting bounded (:data:`MAX_DEPTH`), so hostile
  YAML is refused after a bounded amount of work instead of exhausting time, memory or the stack.

The document is composed into YAML nodes (safe tags only) and converted by hand, so that each
path (``("jobs", 0, "commands")``) keeps the position of its value and of its key. Duplicate
keys, non-scalar keys and unsupported tags are reported as problems with positions.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from nosana_node.pipeline.problems import Mark, Problem, ProblemList

try:  # libyaml: scanning and parsing in C (PyYAML wheels ship it)
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml.parser import Parser as _Parser  # type: ignore[assignment]

Path_ = tuple[str | int, ...]
#: Largest file read (pipeline files are a few KiB; the largest known is under 5 KiB).
MAX_BYTES = 1024 * 1024
#: Most YAML nodes composed, and most values produced when aliases are expanded.
MAX_NODES = 10_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
# Characters YAML 1.1 does not allow in a stream (tab, LF, CR and NEL are fine).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Document:
    """A loaded file: its data, the marks of every path, and warnings found on the way."""

    file: str
    text: str
    data: Any
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def mark(self, path: Path_, key: bool = False) -> Mark:
        """The mark of ``path`` (its key when ``key`` and known), else of its nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return Mark(1, 1)

    def alias(self, new: Path_, old: Path_) -> None:
        """Give ``new`` (and everything under it) the marks of ``old``: for renamed keys."""
        size = len(old)
        for table in (self.values, self.keys):
            for path in [p for p in table if p[:size] == old]:
                table[new + path[size:]] = table[path]


def _mark(node: yaml.Node | yaml.Event) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Stop(Exception):
    """Composition stopped by a budget; carries the problem."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedLoader(Composer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc, valid-type]
    """libyaml's events, composed in Python with a node count and a depth limit."""

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Stop(_mark(self.peek_event()), f"document too large (over {MAX_NODES} YAML nodes)")
        if self.depth >= MAX_DEPTH:
            raise _Stop(_mark(self.peek_event()), f"nested too deeply (over {MAX_DEPTH} levels)")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Converter:
    def __init__(self, file: str, loader: _BoundedLoader) -> None:
        self.file = file
        self.loader = loader
        self.doc_values: dict[Path_, Mark] = {}
        self.doc_keys: dict[Path_, Mark] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Stop(
                _mark(node), f"document too large (over {MAX_NODES} values once aliases are expanded)"
            )
        if len(path) > MAX_DEPTH:
            raise _Stop(_mark(node), f"nested too deeply (over {MAX_DEPTH} levels once aliases are expanded)")
        self.doc_values[path] = _mark(node)
        expected = {yaml.MappingNode: MAP_TAG, yaml.SequenceNode: SEQ_TAG}.get(type(node))
        if expected is not None and node.tag != expected:
            self.problems.append(
                Problem(self.file, _mark(node), render_path(path), f"unsupported YAML tag {node.tag!r}")
            )
            return None
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(self.file, _mark(key_node), render_path(path), "keys must be plain scalars")
                    )
                    continue
                key = self.loader.construct_object(key_node)
                key = key if isinstance(key, str) else str(key)
                child = (*path, key)
                if key in result:
                    self.problems.append(
                        Problem(self.file, _mark(key_node), render_path(child), f"duplicate key {key!r}")
                    )
                    continue
                self.doc_keys[child] = _mark(key_node)
                result[key] = self.convert(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def render_path(path: Path_) -> str:
    """``("jobs", 0, "commands")`` → ``jobs[0].commands``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _position(text: str, index: int) -> Mark:
    line = text.count("\n", 0, index) + 1
    return Mark(line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(file: Path, limit: int = MAX_BYTES) -> bytes:
    """The content of the regular file ``file`` (at most ``limit`` bytes), or a one-problem
    :class:`ProblemList` saying why not. Never blocks on a FIFO, never reads a device."""
    name = str(file)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ProblemList([Problem(name, None, "", "no such file")]) from None
    except OSError as exc:
        raise ProblemList([Problem(name, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ProblemList([Problem(name, None, "", "is a directory, not a file")])
        if not stat.S_ISREG(info.st_mode):
            raise ProblemList(
                [Problem(name, None, "", f"is {_kind(info.st_mode)}; only regular files are read")]
            )
        if info.st_size > limit:
            raise ProblemList(
                [Problem(name, None, "", f"file too large ({info.st_size} bytes, over {limit})")]
            )
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while chunk := os.read(fd, min(65536, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ProblemList([Problem(name, None, "", f"file too large (over {limit} bytes)")])
        return b"".join(chunks)
    except OSError as exc:
        raise ProblemList([Problem(name, None, "", f"cannot read: {exc.strerror}")]) from None
    finally:
        os.close(fd)


def decode(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text; a problem with line and column when it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = _position(data[: exc.start].decode("utf-8", "replace"), exc.start)
        raise ProblemList(
            [Problem(file, where, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x})")]
        ) from None


def read_text(file: Path) -> str:
    """The text of a pipeline file: a bounded read of a regular file, decoded as UTF-8."""
    return decode(read_bytes(file), str(file))


def parse(text: str, file: str) -> Document:
    """Parse ``text`` (named ``file`` in messages) into a :class:`Document` (any YAML value)."""
    bad = _CONTROL.search(text)
    if bad is not None:
        where = _position(text, bad.start())
        message = f"control character U+{ord(bad.group()):04X} is not allowed in YAML"
        raise ProblemList([Problem(file, where, "", message)])
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        converter = _Converter(file, loader)
        data = None if node is None else converter.convert(node, ())
    except _Stop as stop:
        raise ProblemList([Problem(file, stop.mark, "", stop.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        reason = " ".join(f"{exc.context or ''} {exc.problem or ''}".split()) or "invalid YAML"
        raise ProblemList([Problem(file, where, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ProblemList([Problem(file, None, "", f"YAML error: {' '.join(str(exc).split())}")]) from None
    except RecursionError:  # a safety net: MAX_DEPTH keeps far below the interpreter's limit
        raise ProblemList([Problem(file, None, "", "nested too deeply")]) from None
    finally:
        loader.dispose()
    if converter.problems:
        raise ProblemList(converter.problems)
    return Document(file=file, text=text, data=data, values=converter.doc_values, keys=converter.doc_keys)


def load_text(text: str, file: str) -> Document:
    """Parse a pipeline's ``text``; an empty document is a problem."""
    doc = parse(text, file)
    if doc.data is None:
        raise ProblemList(
            [Problem(file, Mark(1, 1), "", "empty pipeline: expected a mapping with 'global' and 'jobs'")]
        )
    return doc


def load_file(file: Path) -> Document:
    """Read and parse a pipeline file."""
    return load_text(read_text(file), str(file))
