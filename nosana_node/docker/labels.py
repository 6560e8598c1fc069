"""Container labels, and the sweep that removes containers whose runner is gone.

Every job container carries: ``io.nosana.node=1`` (the project), ``io.nosana.store`` (the
identity of the flow store it belongs to), ``io.nosana.flow``, ``io.nosana.op`` and
``io.nosana.runner`` (host:pid:start of the runner process). The sweep only looks at containers
of one store and only removes those whose runner process, on this host, no longer exists: two
runners (or two test suites) sharing an engine never remove each other's containers.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from nosana_node.docker.errors import EngineNotFound, engine_call
from nosana_node.flow.owner import RunnerIdentity

if TYPE_CHECKING:
    import docker

NODE = "io.nosana.node"
STORE = "io.nosana.store"
FLOW = "io.nosana.flow"
OP = "io.nosana.op"
RUNNER = "io.nosana.runner"


def job_labels(store_id: str, runner: RunnerIdentity, flow_id: str, op_id: str) -> dict[str, str]:
    """The labels of one job container."""
    return {NODE: "1", STORE: store_id, RUNNER: str(runner), FLOW: flow_id, OP: op_id}


def store_containers(api: docker.APIClient, store_id: str) -> list[dict[str, Any]]:
    """Every container (running or not) labelled with this store."""
    return api.containers(all=True, filters={"label": [f"{NODE}=1", f"{STORE}={store_id}"]})


def is_orphan(container: dict[str, Any]) -> bool:
    """True when the container's runner is known to be gone (same host, process dead)."""
    runner = RunnerIdentity.parse(container.get("Labels", {}).get(RUNNER, ""))
    return runner is not None and runner.alive() is False


def sweep_orphans(api: docker.APIClient, store_id: str) -> list[str]:
    """Remove this store's containers whose runner is gone; returns their ids."""
    removed = []
    with engine_call("cannot list this store's containers"):
        containers = store_containers(api, store_id)
    for container in containers:
        if is_orphan(container):
            with contextlib.suppress(EngineNotFound), engine_call("cannot remove an orphan container"):
                api.remove_container(container["Id"], force=True, v=True)  # NotFound: removed meanwhile
            removed.append(container["Id"])
    return removed
