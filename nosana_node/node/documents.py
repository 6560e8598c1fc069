"""From a job's document digest to a flow: fetch (verified), read, tell the format, compile.

A job names its document by the 32-byte digest of an IPFS CIDv0. :func:`fetch_job_document`
gets it from storage (checked against the CID, at most :data:`MAX_JOB_DOCUMENT_BYTES`) and reads
it as JSON; :func:`compile_job_document` is the one seam from a document to a :class:`Flow`
whose id is the job address:

* a pipeline document ``{"type": "Pipeline", "pipeline": YAML, "url", "commit"}`` (the original
  node's ``"Github"`` type too, and a bare pipeline mapping): validated, then compiled; ``url``
  and ``commit`` (or the pipeline's ``trigger``) name the repository checked out for every job:
  an ``https`` or ``http`` URL, checked out as a *public* checkout (a public host, pinned, with
  none of this host's identity: :mod:`nosana_node.checkout.public`);
* a job definition (v0.1, JSON or YAML): validated, checked against this host's GPUs and
  compiled (:func:`nosana_node.jobdef.prepare.prepare_job`); a host that cannot serve it raises
  :class:`~nosana_node.jobdef.prepare.CannotServe` (the node gives the run back: ``quit``);
* anything else: refused as an unknown format.

Whatever makes a document unusable raises :class:`JobDocumentError`: the node finishes the job
with a failed result that says why. A storage backend that is down is not the job's fault: its
:class:`~nosana_node.storage.errors.StorageError` propagates and the node tries again later.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.flow.model import Flow
from nosana_node.storage.base import Storage
from nosana_node.storage.cid import Cid

#: Largest job document fetched (a pipeline is at most 1 MiB of YAML).
MAX_JOB_DOCUMENT_BYTES = 4 * 1024 * 1024
#: Problems quoted in a refusal (the rest are counted).
MAX_PROBLEMS_QUOTED = 5
_REPO = re.compile(r"^https?://[^\s/]+\S*$")
_COMMIT = re.compile(r"^[0-9A-Za-z._/-]{1,128}$")


class JobDocumentError(NosanaError):
    """A job document the node cannot run; ``reason`` is one word for the result document:
    ``no-document``, ``missing``, ``damaged``, ``not-json``, ``unknown-format``, ``unsupported``,
    ``invalid``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def fetch_job_document(storage: Storage, digest: bytes) -> tuple[Cid, Any]:
    """(CID, parsed JSON) of the document a job's digest names."""
    from nosana_node.storage.errors import (
        ContentMismatchError,
        CorruptBlockError,
        NotFoundError,
        TooLargeError,
    )

    cid = Cid.from_chain(digest)
    if cid is None:
        raise JobDocumentError("no-document", "the job names no document (its digest is all zeros)")
    try:
        content = storage.get(cid, max_size=MAX_JOB_DOCUMENT_BYTES)
    except NotFoundError:
        raise JobDocumentError("missing", f"job document {cid} not found ({storage.name})") from None
    except TooLargeError:
        raise JobDocumentError(
            "damaged", f"job document {cid} is larger than {MAX_JOB_DOCUMENT_BYTES} bytes"
        ) from None
    except (ContentMismatchError, CorruptBlockError) as exc:
        raise JobDocumentError("damaged", f"job document {cid}: {exc}") from None
    try:
        return cid, json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = " ".join(str(exc).split())[:120]
        raise JobDocumentError("not-json", f"job document {cid} is not JSON ({why})") from None


def document_format(document: Any) -> str:
    """``pipeline``, ``jobdef`` or ``unknown``."""
    from nosana_node.formats import detect

    if (
        isinstance(document, dict)
        and "pipeline" in document
        and document.get("type") in ("Pipeline", "Github")
    ):
        return "pipeline"
    return detect(document)


def compile_job_document(document: Any, *, flow_id: str, context: dict[str, str] | None = None) -> Flow:
    """The flow (id ``flow_id``: the job address) that runs ``document``; ``context`` gives the
    run's variables (``NOS_JOB_ADDRESS``, ``NOS_RUN_ADDRESS``, ``NOS_PROJECT_ADDRESS``,
    ``NOS_NODE_ADDRESS``). :class:`JobDocumentError` when the document cannot run; ``CannotServe``
    when this host cannot (a job definition's GPU, VRAM or CUDA)."""
    kind = document_format(document)
    if kind == "pipeline":
        return _compile_pipeline(document, flow_id, dict(context or {}))
    if kind == "jobdef":
        return _compile_jobdef(document, flow_id, dict(context or {}))
    raise JobDocumentError(
        "unknown-format",
        'unknown job document format: expected a pipeline document {"type": "Pipeline", '
        '"pipeline": YAML, "url", "commit"} or a job definition {"version": "0.1", "ops": [...]}',
    )


def _invalid(what: str, problems: Any) -> JobDocumentError:
    """``invalid <what>: `` and the first problems of a ``ProblemList``, one line."""
    lines = problems.lines
    more = f" (and {len(lines) - MAX_PROBLEMS_QUOTED} more)" if len(lines) > MAX_PROBLEMS_QUOTED else ""
    return JobDocumentError("invalid", f"invalid {what}: " + "; ".join(lines[:MAX_PROBLEMS_QUOTED]) + more)


def _compile_jobdef(document: Any, flow_id: str, context: dict[str, str]) -> Flow:
    from nosana_node.jobdef.prepare import CannotServe, prepare_job
    from nosana_node.pipeline.problems import ProblemList

    try:
        flow = prepare_job(document, flow_id=flow_id, context=context)
    except CannotServe:
        raise
    except ProblemList as exc:
        raise _invalid("job definition", exc) from None
    except NosanaError as exc:
        raise JobDocumentError("invalid", f"job definition: {exc}") from None
    for op in flow.ops:  # a stranger's resource endpoints: see nosana_node.resources.guard
        if op.type == "container/run":
            op.args["public"] = True
    return flow


def _compile_pipeline(document: dict[str, Any], flow_id: str, context: dict[str, str]) -> Flow:
    from nosana_node.chain.documents import MAX_PIPELINE_BYTES
    from nosana_node.formats import JOBDEF, detect
    from nosana_node.pipeline.compile import compile_pipeline
    from nosana_node.pipeline.loader import load_text
    from nosana_node.pipeline.problems import ProblemList
    from nosana_node.pipeline.schema import Checkout
    from nosana_node.pipeline.validate import validate

    if "pipeline" in document:
        text, url, commit = document["pipeline"], document.get("url"), document.get("commit")
        if not isinstance(text, str):
            raise JobDocumentError(
                "invalid", "the job document's 'pipeline' must be the pipeline's YAML text"
            )
    else:  # a bare pipeline mapping (JSON is YAML)
        text, url, commit = json.dumps(document), None, None
    if len(text.encode("utf-8")) > MAX_PIPELINE_BYTES:
        raise JobDocumentError("invalid", f"the pipeline is larger than {MAX_PIPELINE_BYTES} bytes")
    if url is not None and (not isinstance(url, str) or not _REPO.match(url)):
        raise JobDocumentError("invalid", f"url {str(url)[:100]!r} is not a repository URL (https, http)")
    if commit is not None and (not isinstance(commit, str) or not _COMMIT.match(commit)):
        raise JobDocumentError("invalid", f"commit {str(commit)[:100]!r} is not a commit")
    try:
        doc = load_text(text, "pipeline")
        if detect(doc.data) == JOBDEF:
            raise JobDocumentError("unsupported", "the document's pipeline is a job definition")
        pipeline = validate(doc)
    except ProblemList as exc:
        raise _invalid("pipeline", exc) from None
    if not url and pipeline.trigger is not None and not _REPO.match(pipeline.trigger.repo):
        raise JobDocumentError(
            "invalid",
            f"trigger.repo {pipeline.trigger.repo[:100]!r} is not a repository URL (https, http)",
        )
    if url:
        checkout = Checkout.model_validate({"repo": url, "commit-sha": commit})
        pipeline = pipeline.model_copy(update={"trigger": checkout})
        context.setdefault("NOS_REPOSITORY", url)
        if commit:
            context.setdefault("NOS_COMMIT_SHA", commit)
    name = (pipeline.nosana.description if pipeline.nosana else None) or f"job {flow_id}"
    source = {"kind": "job", "format": "pipeline", "job": flow_id, "url": url, "commit": commit}
    flow = compile_pipeline(pipeline, name=name, source=source, context=context, flow_id=flow_id)
    for op in flow.ops:  # a stranger's repository: see nosana_node.checkout.public
        if op.type == "checkout/git":
            op.args["public"] = True
    return flow
