"""Which job format a document is: a Nosana pipeline or a job definition (v0.1).

Both reach a node (spec: job formats). :func:`detect` tells them apart from the text (JSON or
YAML, read with the same bounds as a pipeline file) or from data already parsed:

- a job definition is a mapping with ``ops``, or with ``version`` and neither ``jobs`` nor
  ``global`` (``{version: "0.1", type: container, ops: [...]}``);
- a pipeline is a mapping with ``jobs`` or ``global``;
- anything else (not a mapping, unreadable, neither) is :data:`UNKNOWN`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Format = Literal["pipeline", "jobdef", "unknown"]
PIPELINE: Format = "pipeline"
JOBDEF: Format = "jobdef"
UNKNOWN: Format = "unknown"


def _parse(text: str | bytes) -> Any:
    from nosana_node.pipeline.loader import MAX_BYTES, decode, parse
    from nosana_node.pipeline.problems import ProblemList

    if len(text) > MAX_BYTES:
        return None
    if isinstance(text, bytes):
        try:
            text = decode(text, "<document>")
        except ProblemList:
            return None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass  # YAML in flow style, or broken: YAML decides
    try:
        return parse(text, "<document>").data
    except ProblemList:
        return None


def detect(document: str | bytes | Any) -> Format:
    """``"pipeline"``, ``"jobdef"`` or ``"unknown"`` for a text (JSON or YAML) or parsed data."""
    data = _parse(document) if isinstance(document, str | bytes) else document
    if not isinstance(data, dict):
        return UNKNOWN
    if "ops" in data or ("version" in data and "jobs" not in data and "global" not in data):
        return JOBDEF
    if "jobs" in data or "global" in data:
        return PIPELINE
    return UNKNOWN
