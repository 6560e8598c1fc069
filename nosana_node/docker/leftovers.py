"""The sweep of what job definitions leave on the engine once their flow will not continue.

A job definition's run makes Docker volumes and a bridge network labelled with the store and
the flow (:mod:`nosana_node.docker.jobenv`), and private directories under
``<home>/flows/<id>/private``. The run removes them when its flow ends; an interrupted flow keeps
them for its resumption. This sweep removes them when that will not happen any more:

- the flow is over (succeeded, failed, stopped, expired): its run could not clean up (the node
  was killed after the flow ended, the engine did not answer at the end);
- the flow is not in the store any more.

Only this store's objects are looked at (two nodes sharing an engine never touch each other's);
an unfinished flow's are kept, whatever its age (``flow cleanup --abandon`` gives up flows whose
runner is gone, so that they are swept too). A volume or network still in use by a container (a
run closing at that moment) is left for a later sweep, quietly; other failures are reported. It
runs when a run first talks to the engine, when the node checks its host, and on
``nosana-node flow cleanup``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.labels import FLOW, NODE, STORE

if TYPE_CHECKING:
    from collections.abc import Callable

    import docker

    from nosana_node.flow.store import FlowStore


#: the engine's words for a volume or network a container still uses
_IN_USE = ("in use", "active endpoints")


@dataclass
class Swept:
    """What one sweep removed, and what it could not."""

    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``removed 2 volume(s), 1 network(s) …`` ("" when nothing was removed)."""
        parts = [
            f"{len(items)} {what}"
            for items, what in (
                (self.volumes, "volume(s)"),
                (self.networks, "network(s)"),
                (self.directories, "private directory(ies)"),
            )
            if items
        ]
        return f"removed {', '.join(parts)} of finished jobs" if parts else ""

    def lines(self) -> list[str]:
        """The summary (when something was removed), then each problem."""
        return [line for line in (self.summary(), *self.problems) if line]


def _over(store: FlowStore, flow_id: str, cache: dict[str, bool]) -> bool:
    if flow_id not in cache:
        status = store.status_of(flow_id)
        cache[flow_id] = status is None or status.finished
    return cache[flow_id]


def sweep_job_leftovers(api: docker.APIClient, store: FlowStore) -> Swept:
    """Remove the job volumes, job networks and private directories of this store's flows that
    are over or gone (see the module's rules)."""
    swept = Swept()
    over: dict[str, bool] = {}
    mine = {"label": [f"{NODE}=1", f"{STORE}={store.store_id}"]}
    with engine_call("cannot list the job volumes"):
        volumes = api.volumes(filters=mine).get("Volumes") or []
    with engine_call("cannot list the job networks"):
        networks = api.networks(filters=mine)
    for volume in volumes:
        flow_id = (volume.get("Labels") or {}).get(FLOW)
        if flow_id and _over(store, flow_id, over):
            _remove(swept.volumes, swept.problems, volume["Name"], "volume", api.remove_volume)
    for network in networks:
        flow_id = (network.get("Labels") or {}).get(FLOW)
        if flow_id and _over(store, flow_id, over):
            _remove(swept.networks, swept.problems, network["Name"], "network", api.remove_network)
    flows = store.home / "flows"
    for private in sorted(flows.glob("*/private")) if flows.is_dir() else []:
        if _over(store, private.parent.name, over):
            shutil.rmtree(private, ignore_errors=True)
            if not private.exists():
                swept.directories.append(str(private))
    return swept


def _remove(
    done: list[str], problems: list[str], name: str, what: str, remove: Callable[[str], object]
) -> None:
    try:
        with engine_call(f"cannot remove {what} {name}"):
            remove(name)
    except EngineNotFound:
        return  # removed meanwhile (by the run itself)
    except EngineError as exc:
        if not any(word in str(exc) for word in _IN_USE):
            problems.append(str(exc))  # in use: a container of a live run has it; a later sweep
        return
    done.append(name)
