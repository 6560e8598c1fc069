"""Reading a pipeline file: YAML to plain data plus the line and column of every key and value.

The document is composed into YAML nodes (safe tags only) and converted by hand, so that each
path (``("jobs", 0, "commands")``) keeps the position of its value and of its key. Duplicate
keys, non-scalar keys and runaway alias expansion are reported as problems with positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nosana_node.pipeline.problems import Problem, ProblemList

Path_ = tuple[str | int, ...]
MAX_NODES = 200_000
MAX_BYTES = 8 * 1024 * 1024
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class Document:
    """A loaded pipeline file: its data and the marks of every path."""

    file: str
    text: str
    data: Any
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)

    def mark(self, path: Path_, key: bool = False) -> Mark:
        """The mark of ``path`` (its key when ``key`` and known), else of its nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return Mark(1, 1)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.doc_values: dict[Path_, Mark] = {}
        self.doc_keys: dict[Path_, Mark] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ProblemList(
                [Problem(self.file, _mark(node), "", f"document too large (over {MAX_NODES} nodes)")]
            )
        self.doc_values[path] = _mark(node)
        expected = {yaml.MappingNode: MAP_TAG, yaml.SequenceNode: SEQ_TAG}.get(type(node))
        if expected is not None and node.tag != expected:
            self.problems.append(
                Problem(self.file, _mark(node), _render(path), f"unsupported YAML tag {node.tag!r}")
            )
            return None
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(self.file, _mark(key_node), _render(path), "keys must be plain scalars")
                    )
                    continue
                key = self.loader.construct_object(key_node)
                key = key if isinstance(key, str) else str(key)
                child = (*path, key)
                if key in result:
                    self.problems.append(
                        Problem(self.file, _mark(key_node), _render(child), f"duplicate key {key!r}")
                    )
                    continue
                self.doc_keys[child] = _mark(key_node)
                result[key] = self.convert(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def _render(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def render_path(path: Path_) -> str:
    """``("jobs", 0, "commands")`` → ``jobs[0].commands``."""
    return _render(path)


def read_text(file: Path) -> str:
    """The file's text, or a one-problem :class:`ProblemList` saying why it cannot be read."""
    name = str(file)
    try:
        if file.is_dir():
            raise ProblemList([Problem(name, None, "", "is a directory, not a pipeline file")])
        if file.stat().st_size > MAX_BYTES:
            raise ProblemList([Problem(name, None, "", f"file too large (over {MAX_BYTES} bytes)")])
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemList([Problem(name, None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise ProblemList([Problem(name, None, "", f"not UTF-8 text (byte {exc.start})")]) from None
    except OSError as exc:
        raise ProblemList([Problem(name, None, "", f"cannot read: {exc.strerror}")]) from None


def load_text(text: str, file: str) -> Document:
    """Parse ``text`` (named ``file`` in messages) into a :class:`Document`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ProblemList(
                [Problem(file, Mark(1, 1), "", "empty pipeline: expected a mapping with 'global' and 'jobs'")]
            )
        converter = _Converter(file, loader)
        data = converter.convert(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else None
        reason = " ".join(f"{exc.context or ''} {exc.problem or ''}".split()) or "invalid YAML"
        raise ProblemList([Problem(file, where, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ProblemList([Problem(file, None, "", f"YAML error: {' '.join(str(exc).split())}")]) from None
    finally:
        loader.dispose()
    if converter.problems:
        raise ProblemList(converter.problems)
    return Document(file=file, text=text, data=data, values=converter.doc_values, keys=converter.doc_keys)


def load_file(file: Path) -> Document:
    """Read and parse a pipeline file."""
    return load_text(read_text(file), str(file))
