"""Archiving a directory tree as the ``checkout`` artifact (shared by the checkout ops).

The tree is archived once (owners set to root, links kept as links, sockets, devices and FIFOs
left out), checked like any artifact and stored in the flow's content-addressed store.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from nosana_node.artifacts.tarcheck import scan
from nosana_node.errors import NosanaError
from nosana_node.flow.registry import OpOutcome
from nosana_node.flow.results import ArtifactRecord, OpResults

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext

ARTIFACT = "checkout"


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        return None  # sockets, devices, FIFOs are not part of a checkout
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def archive_tree(ctx: OpContext, root: Path, what: str, source: str) -> OpOutcome:
    """Store the tree under ``root`` as the ``checkout`` artifact; ``source`` names it
    (``what`` is for messages: ``the workspace``, ``the checkout``)."""
    with ctx.artifacts.writer(ctx.settings.artifact_cap, what) as writer:
        try:
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for entry in sorted(os.listdir(root)):
                    ctx.cancel.check()
                    tar.add(root / entry, arcname=entry, filter=_as_root)
        except OSError as exc:
            raise NosanaError(f"cannot read {what} {root}: {exc.strerror}: {exc.filename}") from None
        writer.close()
        summary = scan(writer.tmp_path)
        blob = writer.commit()
    ctx.log.note(f"{what} {source}: {summary.files} files, {summary.bytes} bytes ({blob.digest})")
    record = ArtifactRecord(blob.digest, blob.size, source, summary.files, summary.bytes)
    return OpOutcome.succeeded(0, OpResults(artifacts={ARTIFACT: record}))
