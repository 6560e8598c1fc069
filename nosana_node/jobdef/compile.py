"""Compiling a valid job definition into a flow (spec §2 → §3).

Each op becomes one flow op of the same id and type (``container/run``,
``container/create-volume``), in the op's group (``execution.group``, else its own id), waiting
for the ops :func:`~nosana_node.jobdef.plan.waits_for` names (to be ready: a service once its
health checks pass, any other op once it runs) and serving those an op with
``stop_if_dependent_stops`` names. ``global`` gives each ``container/run`` its defaults
(``image``, ``gpu``, ``entrypoint``, ``work_dir``; ``env`` merged under the op's). Literals are
compiled by :mod:`nosana_node.jobdef.expand`: variables at once, the rest when the op starts.
The flow's context holds what ``%%global.job|project|host%%`` read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
from typing import Any

from nosana_node.flow.model import Flow, Op, new_flow_id
from nosana_node.jobdef.expand import GLOBAL_CONTEXT, compile_value
from nosana_node.jobdef.plan import waits_for
from nosana_node.jobdef.schema import RunOp
from nosana_node.jobdef.validate import ValidJob

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_GLOBAL_DEFAULTS = ("image", "gpu", "entrypoint", "work_dir")


def op_alias(op_id: str, index: int) -> str:
    """The name an op's container is reached by on the job's network (``%%ops.ID.host%%``)."""
    return op_id if _DNS_LABEL.match(op_id) else f"op-{index}"


def compile_job(
    job: ValidJob,
    *,
    name: str | None = None,
    flow_id: str | None = None,
    context: dict[str, str] | None = None,
    source: dict[str, Any] | None = None,
) -> Flow:
    """The flow of ``job``; ``context`` may set ``NOS_PROJECT_ADDRESS`` and ``NOS_NODE_ADDRESS``
    (defaults: ``local`` and this host's name); ``NOS_JOB_ADDRESS`` is the flow id."""
    definition = job.definition
    data = job.document.data
    flow_id = flow_id or new_flow_id()
    variables = definition.variables
    global_data: dict[str, Any] = dict(data.get("global") or {})
    hosts = {op.id: op_alias(op.id, i) for i, op in enumerate(definition.ops)}
    waits = waits_for(definition)
    ops: list[Op] = []
    for index, op in enumerate(definition.ops):
        raw = copy.deepcopy(data["ops"][index])
        args: dict[str, Any] = dict(raw.get("args") or {})
        serves: list[str] = []
        if isinstance(op, RunOp):
            for key in _GLOBAL_DEFAULTS:
                if key not in args and key in global_data:
                    args[key] = copy.deepcopy(global_data[key])
            env = {**(global_data.get("env") or {}), **(args.get("env") or {})}
            if env:
                args["env"] = env
            args["results"] = copy.deepcopy(raw.get("results") or {})
            args["alias"] = hosts[op.id]
            if op.execution and op.execution.stop_if_dependent_stops:
                serves = [d for d in op.depends_on if d in waits and d != op.id]
        ops.append(
            Op(
                id=op.id,
                type=op.type,
                args=compile_value(args, variables, hosts),
                depends_on=list(waits[op.id]),
                group=op.group,
                serves=serves,
            )
        )
    context = dict(context or {})
    flow_context = {
        GLOBAL_CONTEXT["job"]: flow_id,
        GLOBAL_CONTEXT["project"]: context.get(GLOBAL_CONTEXT["project"]) or "local",
        GLOBAL_CONTEXT["host"]: context.get(GLOBAL_CONTEXT["host"]) or socket.gethostname(),
    }
    text = json.dumps(data, sort_keys=True)
    return Flow(
        id=flow_id,
        name=name or "job definition",
        ops=ops,
        context=flow_context,
        source={
            "kind": "jobdef",
            "format": job.format,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            **(source or {}),
        },
    )
