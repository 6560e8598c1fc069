"""The machine-readable result of a flow (``--json``): status, per-op outcome (with its failure
reason), artifacts, timings, result values, log excerpt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nosana_node.flow.model import Flow
from nosana_node.secrets.masking import process_masker


def iso(timestamp: float | None) -> str | None:
    """Unix time → ISO 8601 UTC with milliseconds."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration(start: float | None, end: float | None) -> float | None:
    return round(end - start, 3) if start is not None and end is not None else None


def flow_result(flow: Flow) -> dict[str, Any]:
    """The result document of ``flow`` (masked)."""
    jobs = []
    for op in flow.ops:
        state = flow.states[op.id]
        artifacts = {name: record.to_json() for name, record in state.results.artifacts.items()}
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
                "duration": _duration(state.started_at, state.ended_at),
                "error": state.error,
                "reason": str(state.reason) if state.reason else None,
                "artifacts": artifacts,
                "timings": dict(state.results.timings),
                "values": dict(state.results.values),
                "log": {
                    "path": state.log.get("path"),
                    "bytes": state.log.get("kept"),
                    "received": state.log.get("received"),
                    "truncated": state.log.get("truncated", False),
                    "excerpt": state.log.get("excerpt", ""),
                },
            }
        )
    result = {
        "flow_id": flow.id,
        "name": flow.name,
        "status": str(flow.status),
        "error": flow.error,
        "source": flow.source,
        "started_at": iso(flow.started_at),
        "ended_at": iso(flow.ended_at),
        "duration": _duration(flow.started_at, flow.ended_at),
        "jobs": jobs,
    }
    return process_masker().mask_obj(result)  # type: ignore[return-value]
