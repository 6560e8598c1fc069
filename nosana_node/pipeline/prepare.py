"""From a pipeline file to a flow ready to run: validate, compile, or find its unfinished run.

A pipeline run again while an earlier run of the same pipeline (same content, workspace and
context) is unfinished and its runner is gone resumes that flow, unless ``fresh`` is asked.
Bad input (pipeline, workspace) raises before anything is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from nosana_node.errors import UserInputError
from nosana_node.flow.model import Flow
from nosana_node.flow.store import FlowStore
from nosana_node.pipeline.problems import Problem


@dataclass(frozen=True)
class PreparedPipeline:
    """A flow to run: new (``resumed`` False) or an unfinished earlier run of the same source,
    and the warnings validation found (what the original node ignored)."""

    flow: Flow
    resumed: bool
    source_key: str
    warnings: list[Problem] = field(default_factory=list)


def prepare_pipeline(
    path: Path,
    store: FlowStore,
    *,
    workspace: Path | None = None,
    fresh: bool = False,
    context: dict[str, str] | None = None,
    flow_id: str | None = None,
    strict: bool = False,
) -> PreparedPipeline:
    """Validate and compile ``path``, or find the unfinished run of it in ``store``; ``strict``
    makes validation warnings errors. Without a workspace, the pipeline's top-level trigger
    (a repository and commit) is the checkout."""
    from nosana_node.pipeline import load
    from nosana_node.pipeline.compile import compile_pipeline, source_key

    context = dict(context or {})
    doc, pipeline = load(path, strict=strict)
    if workspace is not None:
        if not workspace.is_dir():
            raise UserInputError(f"workspace {workspace} is not a directory")
        workspace = workspace.resolve()
    key = source_key(doc.text, workspace, context)
    if not fresh and flow_id is None:
        unfinished = store.find_resumable(key)
        if unfinished is not None:
            return PreparedPipeline(store.load(unfinished), True, key, doc.warnings)
    name = (pipeline.nosana.description if pipeline.nosana else None) or path.stem
    source = {
        "kind": "pipeline",
        "file": str(path.resolve()),
        "sha256": hashlib.sha256(doc.text.encode()).hexdigest(),
        "workspace": str(workspace) if workspace else None,
    }
    flow = compile_pipeline(
        pipeline, name=name, source=source, workspace=workspace, context=context, flow_id=flow_id
    )
    return PreparedPipeline(flow, False, key, doc.warnings)
