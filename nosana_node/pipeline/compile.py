"""Compiling a validated pipeline into a flow of ops (spec §3).

Each job becomes one ``docker/run`` op that depends on the one before it. Values that are only
known when a job starts stay symbolic: secrets (``{"$secret": …}``), artifacts of earlier jobs
(``{"$result": [job, "artifacts", name]}``) and context variables (``{"$context": …}``). With a
workspace, a ``checkout/local`` op comes first and every job gets its ``checkout`` resource.
The runner checks every op's arguments against its op type before the flow runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nosana_node.flow.model import Flow, Op, new_flow_id
from nosana_node.flow.refs import context_ref, result_ref
from nosana_node.pipeline.schema import (
    DEFAULT_IMAGE,
    DEFAULT_WORK_DIR,
    Job,
    Pipeline,
    PullSecrets,
    SecretValue,
)
from nosana_node.secrets.refs import SecretRef

CONTEXT_VARIABLES = ("NOS_JOB_ADDRESS", "NOS_RUN_ADDRESS", "NOS_REPOSITORY", "NOS_COMMIT_SHA")
TERMINAL_ENV = {"TERM": "xterm-color", "FORCE_COLOR": "1", "CLICOLOR": "1"}
CHECKOUT = "checkout"


def _env_value(value: str | SecretValue) -> Any:
    return value.ref().to_json() if isinstance(value, SecretValue) else value


def _environment(pipeline: Pipeline, job: Job) -> dict[str, Any]:
    env: dict[str, Any] = {**TERMINAL_ENV, **{name: context_ref(name) for name in CONTEXT_VARIABLES}}
    for scope in (pipeline.global_, job):
        env.update({name: _env_value(value) for name, value in scope.environment.items()})
        env.update({name: SecretRef(path=name).to_json() for name in scope.secrets})
    return env


def _pull_auth(secrets: PullSecrets | None) -> dict[str, Any] | None:
    if secrets is None:
        return None
    return {
        "server": secrets.url,
        "username": _env_value(secrets.username),
        "password": secrets.password.ref().to_json(),
    }


def _unique(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def source_key(text: str, workspace: Path | None, context: dict[str, str]) -> str:
    """What identifies "the same run" of a pipeline: content, workspace path and context."""
    material = json.dumps([text, str(workspace) if workspace else None, context], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def compile_pipeline(
    pipeline: Pipeline,
    *,
    name: str,
    source: dict[str, Any] | None = None,
    workspace: Path | None = None,
    context: dict[str, str] | None = None,
    flow_id: str | None = None,
) -> Flow:
    """The flow for ``pipeline`` (id ``flow_id``, else a random one); ``workspace`` seeds the
    ``checkout`` resource of every job."""
    ops: list[Op] = []
    shared_resources: list[dict[str, Any]] = []
    taken = {job.name for job in pipeline.jobs}
    if workspace is not None:
        checkout_id = _unique(CHECKOUT, taken)
        taken.add(checkout_id)
        ops.append(Op(id=checkout_id, type="checkout/local", args={"path": str(workspace.resolve())}))
        shared_resources.append(
            {
                "name": CHECKOUT,
                "path": ".",
                "required": True,
                "artifact": result_ref(checkout_id, "artifacts", CHECKOUT),
            }
        )

    producers: dict[str, str] = {}
    for job in pipeline.jobs:
        resources = list(shared_resources)
        for resource in job.resources:
            resources.append(
                {
                    "name": resource.name,
                    "path": resource.path,
                    "required": resource.required,
                    "artifact": result_ref(producers[resource.name], "artifacts", resource.name),
                }
            )
        args = {
            "image": job.image or pipeline.global_.image or DEFAULT_IMAGE,
            "commands": [
                {"cmd": c, "working_dir": None, "allow_failure": False}
                if isinstance(c, str)
                else {"cmd": c.cmd, "working_dir": c.working_dir, "allow_failure": c.allow_failure}
                for c in job.commands
            ],
            "work_dir": job.work_dir or DEFAULT_WORK_DIR,
            "env": _environment(pipeline, job),
            "resources": resources,
            "artifacts": [{"name": a.name, "path": a.path, "required": a.required} for a in job.artifacts],
            "pull_auth": _pull_auth(job.image_pull_secrets or pipeline.global_.image_pull_secrets),
        }
        allow_failure = job.allow_failure if job.allow_failure is not None else pipeline.global_.allow_failure
        depends_on = [ops[-1].id] if ops else []
        ops.append(
            Op(id=job.name, type="docker/run", args=args, depends_on=depends_on, allow_failure=allow_failure)
        )
        for artifact in job.artifacts:
            producers[artifact.name] = job.name

    return Flow(
        id=flow_id or new_flow_id(),
        name=name,
        ops=ops,
        context=dict(context or {}),
        source=dict(source or {}),
    )
