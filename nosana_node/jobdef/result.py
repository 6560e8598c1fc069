"""The result document of a job definition: the official node's flow state, so that the official
SDK and dashboards read it.

Shape: ``{status, startTime, endTime, errors, opStates: [{operationId, group, status, startTime,
endTime, exitCode, logs: [{type, log, timestamp}], results, diagnostics}]}``; times are Unix
milliseconds. Statuses in the official vocabulary: a flow or op that succeeded, or that ran
until the job's deadline, is ``success`` (the official node counts ``expired`` so); ``failed``,
``stopped``, ``running``; an op that never started is ``init`` (``diagnostics`` says why it did
not run). Log ``type`` is ``stdout``, ``stderr`` or ``nodeerr`` (the node's own messages).
``results`` holds each declared key's matches; ``diagnostics`` the node's reason, error and the
URLs a service was reached at. Every value is masked.
"""

from __future__ import annotations

from typing import Any

from nosana_node.flow.logs import read_log
from nosana_node.flow.model import Flow, FlowStatus, OpStatus
from nosana_node.secrets.masking import process_masker

_FLOW = {
    FlowStatus.SUCCEEDED: "success",
    FlowStatus.EXPIRED: "success",
    FlowStatus.FAILED: "failed",
    FlowStatus.STOPPED: "stopped",
    FlowStatus.RUNNING: "running",
    FlowStatus.PENDING: "init",
    FlowStatus.INTERRUPTED: "running",
}
_OP = {
    OpStatus.SUCCEEDED: "success",
    OpStatus.EXPIRED: "success",
    OpStatus.FAILED: "failed",
    OpStatus.STOPPED: "stopped",
    OpStatus.RUNNING: "running",
    OpStatus.PENDING: "init",
    OpStatus.SKIPPED: "init",
    OpStatus.INTERRUPTED: "running",
}
_LOG_TYPE = {"stdout": "stdout", "stderr": "stderr", "node": "nodeerr"}


def _ms(when: float | None) -> int | None:
    return None if when is None else int(when * 1000)


def _logs(path: str | None) -> list[dict[str, Any]]:
    from pathlib import Path

    if not path or not Path(path).exists():
        return []
    return [
        {"type": _LOG_TYPE.get(stream, stream), "log": text, "timestamp": _ms(when)}
        for when, stream, text in read_log(Path(path))
    ]


def flow_state(flow: Flow) -> dict[str, Any]:
    """The result document of ``flow`` (a compiled job definition), masked."""
    op_states = []
    errors = []
    for op in flow.ops:
        state = flow.states[op.id]
        if state.error and state.status is not OpStatus.SKIPPED:
            errors.append(f"{op.id}: {state.error}")
        declared = (op.args.get("results") or {}) if op.type == "container/run" else {}
        values = state.results.values
        op_states.append(
            {
                "operationId": op.id,
                "group": op.group or op.id,
                "status": _OP[state.status],
                "startTime": _ms(state.started_at),
                "endTime": _ms(state.ended_at),
                "exitCode": state.exit_code,
                "logs": _logs(state.log.get("path")),
                "results": {key: values.get(key, []) for key in declared} if declared else None,
                "diagnostics": {
                    "status": str(state.status),
                    "reason": str(state.reason) if state.reason else None,
                    "error": state.error,
                    "readyTime": _ms(state.ready_at),
                    "endpoints": dict(state.results.endpoints),
                },
            }
        )
    if flow.error and not errors:
        errors.append(flow.error)
    document = {
        "id": flow.id,
        "status": _FLOW[flow.status],
        "startTime": _ms(flow.started_at),
        "endTime": _ms(flow.ended_at),
        "errors": errors,
        "opStates": op_states,
    }
    return process_masker().mask_obj(document)  # type: ignore[return-value]
