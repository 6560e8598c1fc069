"""Compiling a validated pipeline into a flow of ops (spec §3).

Each job becomes one ``docker/run`` op that depends on the one before it. Values that are only
known when a job starts stay symbolic: secrets (``{"$secret": …}``), artifacts of earlier jobs
(``{"$result": [job, "artifacts", name]}``) and context variables (``{"$context": …}``).

The built-in ``checkout`` artifact comes first when there is something to check out: a
workspace (``checkout/local``) or, without one, the pipeline's top-level ``trigger: {repo,
commit-sha}`` (``checkout/git``, as the original node's local runs did; the trigger also gives
``NOS_REPOSITORY`` and ``NOS_COMMIT_SHA`` unless the context sets them). Every job gets it at
its work dir, and where a job names it as a resource, at that path too.

A resource no earlier job makes (validation warned about it) compiles to a missing artifact:
the job fails when it starts, or skips it when the resource is ``required: false``. The runner
checks every op's arguments against its op type before the flow runs.
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
    Artifact,
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
        "server": secrets.url,  # None: the engine's default registry
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


def _checkout(pipeline: Pipeline, workspace: Path | None, taken: set[str]) -> Op | None:
    """The op making the ``checkout`` artifact, if there is anything to check out."""
    op_id = _unique(CHECKOUT, taken)
    if workspace is not None:
        return Op(id=op_id, type="checkout/local", args={"path": str(workspace.resolve())})
    if pipeline.trigger is not None:
        args = {"repo": pipeline.trigger.repo, "commit": pipeline.trigger.commit_sha}
        return Op(id=op_id, type="checkout/git", args=args)
    return None


def _artifact(artifact: Artifact) -> dict[str, Any]:
    if len(artifact.paths) == 1:
        return {"name": artifact.name, "path": artifact.paths[0], "required": artifact.required}
    return {
        "name": artifact.name,
        "path": artifact.paths[0],
        "paths": list(artifact.paths),
        "required": artifact.required,
    }


def compile_pipeline(
    pipeline: Pipeline,
    *,
    name: str,
    source: dict[str, Any] | None = None,
    workspace: Path | None = None,
    context: dict[str, str] | None = None,
    flow_id: str | None = None,
) -> Flow:
    """The flow for ``pipeline`` (id ``flow_id``, else a random one); ``workspace`` (else the
    top-level trigger) is the checkout."""
    ops: list[Op] = []
    taken = {job.name for job in pipeline.jobs}
    producers: dict[str, str] = {}  # artifact -> op that made it last, so far
    shared_resources: list[dict[str, Any]] = []
    checkout = _checkout(pipeline, workspace, taken)
    if checkout is not None:
        ops.append(checkout)
        producers[CHECKOUT] = checkout.id
        shared_resources.append(
            {
                "name": CHECKOUT,
                "path": ".",
                "required": True,
                "artifact": result_ref(checkout.id, "artifacts", CHECKOUT),
            }
        )

    for job in pipeline.jobs:
        resources = list(shared_resources)
        for resource in job.resources:
            producer = producers.get(resource.name)
            required = resource.required and not (resource.name == CHECKOUT and producer is None)
            resources.append(
                {
                    "name": resource.name,
                    "path": resource.path,
                    "required": required,
                    "artifact": result_ref(producer, "artifacts", resource.name) if producer else None,
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
            "artifacts": [_artifact(a) for a in job.artifacts],
            "pull_auth": _pull_auth(job.image_pull_secrets or pipeline.global_.image_pull_secrets),
        }
        allow_failure = job.allow_failure if job.allow_failure is not None else pipeline.global_.allow_failure
        depends_on = [ops[-1].id] if ops else []
        ops.append(
            Op(id=job.name, type="docker/run", args=args, depends_on=depends_on, allow_failure=allow_failure)
        )
        for artifact in job.artifacts:
            producers[artifact.name] = job.name

    flow_context = dict(context or {})
    if pipeline.trigger is not None and workspace is None:
        flow_context.setdefault("NOS_REPOSITORY", pipeline.trigger.repo)
        if pipeline.trigger.commit_sha:
            flow_context.setdefault("NOS_COMMIT_SHA", pipeline.trigger.commit_sha)
    return Flow(
        id=flow_id or new_flow_id(),
        name=name,
        ops=ops,
        context=flow_context,
        source=dict(source or {}),
    )
