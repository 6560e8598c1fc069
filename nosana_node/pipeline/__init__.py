"""The Nosana pipeline format: loading (with positions), validation, compilation to a flow.

Typical use::

    doc, pipeline = load(Path("pipelines/hello.yml"))   # ProblemList (exit 2) when invalid
    flow = compile_pipeline(pipeline, name=..., source=...)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nosana_node.pipeline.loader import Document
    from nosana_node.pipeline.schema import Pipeline


def load(path: Path) -> tuple[Document, Pipeline]:
    """Read, parse and validate a pipeline file; raises ``ProblemList`` listing every problem."""
    from nosana_node.pipeline.loader import load_file
    from nosana_node.pipeline.validate import validate

    doc = load_file(path)
    return doc, validate(doc)
