"""The ``checkout/local`` op: a local directory becomes the ``checkout`` artifact.

``nosana-node pipeline run --workspace DIR`` compiles to this op first; every job then gets the
``checkout`` resource at its work dir. The directory is archived once (owners set to root,
links kept as links, checked like any artifact) into the flow's content-addressed store.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nosana_node.artifacts.tarcheck import scan
from nosana_node.errors import NosanaError
from nosana_node.flow.model import Op
from nosana_node.flow.registry import OpOutcome, OpType
from nosana_node.flow.results import ArtifactRecord, OpResults, Reason

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext

ARTIFACT = "checkout"


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        return None  # sockets, devices, FIFOs are not part of a checkout
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


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
        with ctx.artifacts.writer(ctx.settings.artifact_cap, "the workspace") as writer:
            try:
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    for entry in sorted(os.listdir(root)):
                        ctx.cancel.check()
                        tar.add(root / entry, arcname=entry, filter=_as_root)
            except OSError as exc:
                raise NosanaError(
                    f"cannot read the workspace {root}: {exc.strerror}: {exc.filename}"
                ) from None
            writer.close()
            summary = scan(writer.tmp_path)
            blob = writer.commit()
        ctx.log.note(f"workspace {root}: {summary.files} files, {summary.bytes} bytes ({blob.digest})")
        record = ArtifactRecord(blob.digest, blob.size, str(root), summary.files, summary.bytes)
        return OpOutcome.succeeded(0, OpResults(artifacts={ARTIFACT: record}))
