"""The result document a node publishes for a job (stored by CID, its digest given to ``finish``).

One JSON document serves both readers a result has:

* the original node's pipeline result: ``{"nos-id": job, "finished-at": unix seconds,
  "results": {op: [status, [{"cmd", "log": [[fd, text], ...], "exit"}]]}}`` (status ``success``,
  ``failed``, ``skipped``, ``stopped``, ``expired``; fd 1 is stdout, 2 stderr and node messages);
* this node's shape, read by ``chain.documents.read_result``: ``"status"`` (``succeeded``,
  ``failed``, ``expired``), ``"error"`` and ``"reason"`` (why it failed: ``invalid``,
  ``not-json`` ...), and ``"jobs"``: per op its status, exit code, times, error, the log text and
  the artifacts (digest, size, files; with a ``cid`` when it was stored with the result).

A job definition's result is the official node's flow state instead (``{id, status, startTime,
endTime, errors, opStates}``, :mod:`nosana_node.jobdef.result`), with the same ``job``, ``run``,
``node``, ``market``, ``document``, ``reason`` and ``error`` keys and ``outcome`` (this node's
status word). Logs are the masked logs the runtime kept, cut to the last ``log_cap`` bytes per op
(a marker says how much was cut); the whole document passes the process masker once more (the
keypair, the vault token). Built from the stored flow only, so the same flow gives the same
document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nosana_node.flow.logs import read_log
from nosana_node.flow.model import Flow, FlowStatus, OpState, OpStatus
from nosana_node.flow.result import iso
from nosana_node.secrets.masking import process_masker

#: How an op's status reads in the original pipeline result.
PIPELINE_STATUS = {
    OpStatus.SUCCEEDED: "success",
    OpStatus.FAILED: "failed",
    OpStatus.SKIPPED: "skipped",
    OpStatus.STOPPED: "stopped",
    OpStatus.EXPIRED: "expired",
    OpStatus.INTERRUPTED: "interrupted",
    OpStatus.PENDING: "pending",
    OpStatus.RUNNING: "running",
}
#: A flow's end as a published status.
RESULT_STATUS = {
    FlowStatus.SUCCEEDED: "succeeded",
    FlowStatus.FAILED: "failed",
    FlowStatus.EXPIRED: "expired",
}
_FD = {"stdout": 1, "stderr": 2, "node": 2}


def op_log(state: OpState, cap: int) -> tuple[list[list[Any]], bool]:
    """The op's log as ``[[fd, text], ...]`` (consecutive records of one stream merged), its last
    ``cap`` bytes; and whether anything was cut."""
    path = state.log.get("path")
    if not path or not Path(path).is_file():
        return [], False
    chunks: list[list[Any]] = []
    for _t, stream, text in read_log(Path(path)):
        fd = _FD.get(stream, 2)
        if chunks and chunks[-1][0] == fd:
            chunks[-1][1] += text
        else:
            chunks.append([fd, text])
    total = sum(len(text.encode("utf-8")) for _, text in chunks)
    if total <= cap:
        return chunks, bool(state.log.get("truncated"))
    kept: list[list[Any]] = []
    room = cap
    for fd, text in reversed(chunks):
        data = text.encode("utf-8")
        if len(data) >= room:
            kept.append([fd, data[len(data) - room :].decode("utf-8", "ignore")])
            break
        kept.append([fd, text])
        room -= len(data)
    kept.reverse()
    kept.insert(0, [2, f"[log cut: the first {total - cap} bytes are not in the result]\n"])
    return kept, True


def _command(op_type: str, args: dict[str, Any]) -> str:
    if op_type == "docker/run":
        return "\n".join(str(c.get("cmd", "")) for c in args.get("commands", []) if isinstance(c, dict))
    if op_type.startswith("checkout/"):
        return f"{op_type} {args.get('repo') or args.get('path') or ''}".strip()
    return op_type


def _first_failure(flow: Flow) -> str | None:
    for op in flow.ops:
        state = flow.states[op.id]
        if state.status in (OpStatus.FAILED, OpStatus.EXPIRED) and not op.allow_failure:
            return f"{op.id}: {state.error or state.status}"
    return None


def result_document(
    *,
    job: str,
    run: str,
    node: str,
    market: str,
    document: str | None,
    status: str,
    finished_at: float,
    flow: Flow | None = None,
    error: str | None = None,
    reason: str | None = None,
    log_cap: int = 1024 * 1024,
    artifact_cids: dict[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """The result document of a job; ``flow`` is its stored flow (None: it never ran). A job
    definition's flow gives the official node's flow state (``opStates``), with the same
    job, run, node, market, document, status word and reason keys."""
    ids = {"job": job, "run": run, "node": node, "market": market, "document": document}
    if flow is not None and flow.source.get("kind") == "jobdef":
        from nosana_node.jobdef.result import flow_state

        state = flow_state(flow)
        return {**state, **ids, "outcome": status, "reason": reason, "error": error or _first_failure(flow)}
    artifact_cids = artifact_cids or {}
    results: dict[str, Any] = {}
    jobs: list[dict[str, Any]] = []
    for op in flow.ops if flow is not None else []:
        state = flow.states[op.id]  # type: ignore[union-attr]
        log, cut = op_log(state, log_cap)
        results[op.id] = [
            PIPELINE_STATUS.get(state.status, str(state.status)),
            [{"cmd": _command(op.type, op.args), "log": log, "exit": state.exit_code}],
        ]
        artifacts = {}
        for name, record in state.results.artifacts.items():
            entry = record.to_json()
            cid = artifact_cids.get((op.id, name))
            if cid is not None:
                entry["cid"] = cid
            artifacts[name] = entry
        jobs.append(
            {
                "name": op.id,
                "type": op.type,
                "status": str(state.status),
                "allow_failure": op.allow_failure,
                "exit_code": state.exit_code,
                "attempts": state.run_count,
                "started_at": iso(state.started_at),
                "ended_at": iso(state.ended_at),
                "duration": state.duration if state.duration is None else round(state.duration, 3),
                "error": state.error,
                "reason": str(state.reason) if state.reason else None,
                "artifacts": artifacts,
                "log": "".join(text for _, text in log),
                "log_truncated": cut,
            }
        )
    if error is None and flow is not None:
        error = flow.error if flow.status is FlowStatus.EXPIRED else _first_failure(flow)
    document_json = {
        "nos-id": job,
        "finished-at": int(finished_at),
        "results": results,
        "status": status,
        "error": error,
        "reason": reason,
        "job": job,
        "run": run,
        "node": node,
        "market": market,
        "document": document,
        "format": (flow.source.get("format") if flow is not None else None),
        "started_at": iso(flow.started_at) if flow is not None else None,
        "ended_at": iso(finished_at),
        "jobs": jobs,
    }
    return process_masker().mask_obj(document_json)  # type: ignore[return-value]
