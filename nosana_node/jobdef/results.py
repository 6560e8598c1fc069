"""Op ``results``: regexes read from the op's log when it ends.

Rules (the official node's): each key's value is the list of matches over the log's lines, in
order: for every line of an accepted stream the regex matches, its whole match then each of its
groups that took part. A key given as a string reads ``stdout`` and ``stderr``; one given as
``{regex, logType}`` reads the streams listed (``nodeerr`` is the node's own messages; ``stdin``
is never logged). A regex that does not compile (validation warned) gives an empty list. The log
is read as it was kept: masked, and capped like every op log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nosana_node.flow.logs import read_log
from nosana_node.jobdef.regex import RegexError, compile_js

_STREAMS = {"stdout": "stdout", "stderr": "stderr", "nodeerr": "node"}
#: the most matches kept per key
MAX_MATCHES = 1000


def extract(log_path: Path, specs: dict[str, Any]) -> dict[str, list[str]]:
    """``{key: [match, group, …]}`` for every key of ``specs`` (``{key: regex | {regex, logType}}``)."""
    compiled = []
    for key, spec in specs.items():
        regex, types = (
            (spec, ["stdout", "stderr"]) if isinstance(spec, str) else (spec["regex"], spec["logType"])
        )
        try:
            pattern = compile_js(regex)
        except RegexError:
            pattern = None
        compiled.append((key, pattern, {_STREAMS[t] for t in types if t in _STREAMS}))
    found: dict[str, list[str]] = {key: [] for key in specs}
    if not compiled or not log_path.exists():
        return found
    pending: dict[str, str] = {}
    for stream, line in _lines(log_path, pending):
        for key, pattern, streams in compiled:
            if pattern is None or stream not in streams or len(found[key]) >= MAX_MATCHES:
                continue
            match = pattern.search(line)
            if match:
                found[key].extend([match.group(0), *(g for g in match.groups() if g is not None)])
    return found


def _lines(log_path: Path, pending: dict[str, str]):  # type: ignore[no-untyped-def]
    for _, stream, text in read_log(log_path):
        parts = (pending.pop(stream, "") + text).split("\n")
        for line in parts[:-1]:
            yield stream, line.rstrip("\r")
        if parts[-1]:
            pending[stream] = parts[-1]
    for stream, rest in pending.items():
        yield stream, rest.rstrip("\r")
