"""The Nosana pipeline format: loading (with positions), validation, compilation to a flow.

Typical use::

    doc, pipeline = load(Path("pipelines/hello.yml"))   # ProblemList (exit 2) when invalid
    for warning in doc.warnings: ...                     # what the original node ignored
    flow = compile_pipeline(pipeline, name=..., source=...)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nosana_node.pipeline.loader import Document
    from nosana_node.pipeline.schema import Pipeline

JOBDEF_HINT = "check it with `nosana-node job validate {file}`"


def load(path: Path, strict: bool = False) -> tuple[Document, Pipeline]:
    """Read, parse and validate a pipeline file; raises ``ProblemList`` listing every problem
    (warnings too). ``strict`` turns warnings into errors. A job definition is named as such."""
    from nosana_node.formats import JOBDEF, detect
    from nosana_node.pipeline.loader import load_text, read_text
    from nosana_node.pipeline.problems import Problem, ProblemList
    from nosana_node.pipeline.validate import validate

    text = read_text(path)

    def not_a_pipeline() -> ProblemList:
        message = f"this is a Nosana job definition (version/ops), not a pipeline; {JOBDEF_HINT}"
        return ProblemList([Problem(str(path), None, "", message.format(file=path))])

    try:
        doc = load_text(text, str(path))
    except ProblemList:
        if detect(text) == JOBDEF:
            raise not_a_pipeline() from None
        raise
    if detect(doc.data) == JOBDEF:
        raise not_a_pipeline()
    return doc, validate(doc, strict=strict)
