"""The ``checkout/local`` op: a local directory becomes the ``checkout`` artifact.

``nosana-node pipeline run --workspace DIR`` compiles to this op first; every job then gets the
``checkout`` resource at its work dir. The directory is archived once
(:func:`~nosana_node.checkout.archive.archive_tree`) into the flow's content-addressed store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nosana_node.checkout.archive import archive_tree
from nosana_node.flow.model import Op
from nosana_node.flow.registry import OpOutcome, OpType
from nosana_node.flow.results import Reason

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext


class LocalCheckout(OpType):
    """Archive a local directory as the ``checkout`` artifact."""

    name = "checkout/local"

    def validate(self, args: dict[str, Any]) -> list[str]:
        path = args.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            return ["path: an absolute directory path is required"]
        return []

    def describe(self, op: Op) -> str:
        return f"{op.id} ({op.args.get('path')})"

    def run(self, ctx: OpContext) -> OpOutcome:
        root = Path(ctx.args["path"])
        if not root.is_dir():
            return OpOutcome.failed(Reason.RESOURCE, f"workspace {root} is not a directory")
        return archive_tree(ctx, root, "the workspace", str(root))
