"""The seams are declared and kept: each implementation has every method its interface declares
(the declared parameters, in order; an implementation may add keyword options), and the ops ask
the engine only through :class:`Executor`."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from nosana_node.chain.client import ChainClient
from nosana_node.chain.interface import Chain
from nosana_node.docker import container_op, run_op
from nosana_node.docker.network import DockerNetwork, FlowNetwork, IsolatedNetwork
from nosana_node.docker.service import DockerService
from nosana_node.flow.executor import Executor, Network
from nosana_node.storage.base import Storage
from nosana_node.storage.embedded import EmbeddedStorage
from nosana_node.storage.gateway import GatewayStorage
from nosana_node.storage.kubo import KuboStorage
from nosana_node.storage.pinata import PinataStorage


def _methods(protocol: type) -> dict[str, list[str]]:
    """The public methods a protocol declares, with their parameter names."""
    return {
        name: list(inspect.signature(member).parameters)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def _fits(implementation: type, name: str, declared: list[str]) -> bool:
    """The declared parameters, in order; any other one is an option (it has a default)."""
    parameters = inspect.signature(getattr(implementation, name)).parameters
    extra = [p for n, p in parameters.items() if n not in declared]
    return [n for n in parameters if n in declared] == declared and all(
        p.default is not p.empty for p in extra
    )


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (Executor, DockerService),
        (Network, IsolatedNetwork),
        (Network, DockerNetwork),
        (Network, FlowNetwork),
        (Storage, EmbeddedStorage),
        (Storage, KuboStorage),
        (Storage, PinataStorage),
        (Storage, GatewayStorage),
        (Chain, ChainClient),
    ],
)
def test_the_adapter_implements_the_declared_seam(protocol: type, implementation: type) -> None:
    declared = _methods(protocol)
    assert declared, f"{protocol.__name__} declares no method"
    for name, parameters in declared.items():
        found = getattr(implementation, name, None)
        assert callable(found) or isinstance(found, property), f"{implementation.__name__} lacks {name}"
        if callable(found):
            assert _fits(implementation, name, parameters), f"{implementation.__name__}.{name}"


@pytest.mark.parametrize("module", [run_op, container_op])
def test_ops_never_touch_the_docker_client(module: object) -> None:
    """No Docker SDK import and no ``.api`` (the client) in an op's module: all goes through the seam."""
    tree = ast.parse(Path(inspect.getfile(module)).read_text())  # type: ignore[arg-type]
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert "docker" not in imported and "requests" not in imported
    touched = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "api"]
    assert touched == [], f"the Docker client is used at lines {touched}"
