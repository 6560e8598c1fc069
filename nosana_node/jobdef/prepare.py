"""From a job definition (a file, text fetched by CID, or parsed JSON) to a flow this host can run.

The seam the node plugs in (``compile_job_document``): validate (``JobProblems``, exit 2), check
the requirements against this host's GPUs (:class:`CannotServe` with every unmet reason: on a
market the node releases the run with ``quit`` and logs the reason), then compile.
"""

from __future__ import annotations

import json
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.flow.model import Flow
from nosana_node.host.gpus import GpuInventory
from nosana_node.jobdef.compile import compile_job
from nosana_node.jobdef.requirements import Unmet, check_requirements
from nosana_node.jobdef.validate import ValidJob, loads


class CannotServe(NosanaError):
    """This host does not meet the job's requirements (GPU, VRAM, CUDA); ``unmet`` says which."""

    reason = "requirements"

    def __init__(self, what: str, unmet: list[Unmet]) -> None:
        super().__init__(f"{what}: this host cannot serve the job: {'; '.join(map(str, unmet))}")
        self.unmet = unmet


def _inventory() -> GpuInventory:
    from nosana_node.host.gpus import NvmlInventory

    return NvmlInventory()


def check_host(job: ValidJob, what: str, inventory: GpuInventory | None = None) -> None:
    """Raise :class:`CannotServe` when this host (its GPUs) cannot run ``job``."""
    unmet = check_requirements(job.definition, (inventory or _inventory()).probe())
    if unmet:
        raise CannotServe(what, unmet)


def prepare_job(
    document: str | bytes | dict[str, Any],
    *,
    flow_id: str,
    context: dict[str, str] | None = None,
    inventory: GpuInventory | None = None,
    name: str = "job definition",
) -> Flow:
    """Validate, check against this host and compile a job definition document."""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    text = document if isinstance(document, str) else json.dumps(document)
    fmt = "json" if text.lstrip().startswith("{") else "yaml"
    job = loads(text, f"job {flow_id}", fmt)  # type: ignore[arg-type]
    check_host(job, f"job {flow_id}", inventory)
    return compile_job(job, name=name, flow_id=flow_id, context=context)
