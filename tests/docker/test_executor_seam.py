"""The engine seam is declared and kept: the Docker adapter implements every method of
:class:`Executor` and :class:`Network` as declared, and the ops ask the engine only through it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from nosana_node.docker import container_op, run_op
from nosana_node.docker.network import DockerNetwork, FlowNetwork, IsolatedNetwork
from nosana_node.docker.service import DockerService
from nosana_node.flow.executor import Executor, Network


def _methods(protocol: type) -> dict[str, list[str]]:
    """The public methods a protocol declares, with their parameter names."""
    return {
        name: list(inspect.signature(member).parameters)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (Executor, DockerService),
        (Network, IsolatedNetwork),
        (Network, DockerNetwork),
        (Network, FlowNetwork),
    ],
)
def test_the_adapter_implements_the_declared_seam(protocol: type, implementation: type) -> None:
    declared = _methods(protocol)
    assert declared, f"{protocol.__name__} declares no method"
    for name, parameters in declared.items():
        found = getattr(implementation, name, None)
        assert callable(found), f"{implementation.__name__} lacks {name}"
        assert list(inspect.signature(found).parameters) == parameters, f"{implementation.__name__}.{name}"


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
