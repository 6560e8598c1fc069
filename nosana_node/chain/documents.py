"""Job and result documents: what a job's 32-byte digests point to (jobs-program spec, last part).

* :func:`pipeline_document` - the job document of a pipeline:
  ``{"type": "Pipeline", "pipeline": YAML, "url": repo, "commit": sha}`` (stored as JSON);
* :func:`read_result` - any published result document as one :class:`ResultSummary`: this
  node's (``{"status", "jobs": [{"name", "status", "exit_code", "log", ...}]}``), a pipeline result
  (``{"nos-id", "finished-at", "results": {op: [status, steps]}}``) or a flow state
  (``{"status", "opStates": [...]}``). Unknown shapes give an UNKNOWN summary, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Largest pipeline posted (the bulk of a job document).
MAX_PIPELINE_BYTES = 1024 * 1024


def pipeline_document(pipeline: str, url: str | None = None, commit: str | None = None) -> dict[str, Any]:
    """The job document of a pipeline (``url``/``commit``: the repository to check out)."""
    return {"type": "Pipeline", "pipeline": pipeline, "url": url, "commit": commit}


@dataclass
class OpResult:
    """One job (op) of a result: its name, status, exit code, log text, artifacts."""

    name: str
    status: str
    exit_code: int | None = None
    log: str = ""
    error: str | None = None
    duration: float | None = None
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ResultSummary:
    """A result document read: overall status and one entry per op."""

    status: str
    ops: list[OpResult] = field(default_factory=list)
    shape: str = "unknown"  # node, pipeline, flow-state, unknown
    error: str | None = None  # why the whole job failed (this node's shape: a bad document ...)


def _text(value: Any) -> str:
    """Log text from the shapes logs come in: a string, [[fd, text]...], [{"log": text}...]."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("excerpt", "log", "text", "data"):
            if key in value:
                return _text(value[key])
        return ""
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, list | tuple) and len(item) >= 2:
                parts.append(_text(item[1]))
            else:
                parts.append(_text(item))
        return "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)
    return str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_result(document: Any) -> ResultSummary:
    """A :class:`ResultSummary` of any known result shape (see the module docstring)."""
    if not isinstance(document, dict):
        return ResultSummary("UNKNOWN")
    if isinstance(document.get("jobs"), list):
        ops = [
            OpResult(
                str(job.get("name", "?")),
                str(job.get("status", "?")),
                _int(job.get("exit_code")),
                _text(job.get("log")),
                job.get("error"),
                job.get("duration") if isinstance(job.get("duration"), int | float) else None,
                job.get("artifacts") if isinstance(job.get("artifacts"), dict) else {},
            )
            for job in document["jobs"]
            if isinstance(job, dict)
        ]
        error = document.get("error")
        return ResultSummary(
            str(document.get("status", "?")), ops, "node", error if isinstance(error, str) else None
        )
    if isinstance(document.get("results"), dict):
        ops = []
        for name, value in document["results"].items():
            status = value[0] if isinstance(value, list) and value else value
            steps = value[1] if isinstance(value, list) and len(value) > 1 else []
            codes = [s.get("exit") for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []
            ops.append(OpResult(str(name), str(status), _int(codes[-1]) if codes else None, _text(steps)))
        failed = any(op.status not in ("success", "ok", "succeeded") for op in ops)
        status = str(document.get("status") or ("failed" if failed else "success"))
        return ResultSummary(status, ops, "pipeline")
    if isinstance(document.get("opStates"), list):
        ops = [
            OpResult(
                str(op.get("operationId", "?")),
                str(op.get("status", "?")),
                _int(op.get("exitCode")),
                _text(op.get("logs")),
                None,
            )
            for op in document["opStates"]
            if isinstance(op, dict)
        ]
        return ResultSummary(str(document.get("status", "?")), ops, "flow-state")
    return ResultSummary(str(document.get("status", "UNKNOWN")))
