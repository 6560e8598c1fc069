"""Ollama models against a stand-in of the Ollama registry (its protocol: manifests, blobs, redirects)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.resources import ChecksumMismatch, ResourceNotFound, ResourceSettings, ResourceStore
from nosana_node.resources.errors import ResourceError, SourceUnreachable
from nosana_node.resources.ollama import parse_model
from tests.resources.conftest import resource
from tests.resources.servers import RegistryStandIn, free_port

GGUF = b"GGUF" + bytes(range(256)) * 40
TEMPLATE = b"{{ .Prompt }}"


@pytest.fixture
def registry() -> Iterator[RegistryStandIn]:
    with RegistryStandIn() as server:
        yield server


def _store(home: Path, registry: RegistryStandIn) -> ResourceStore:
    return ResourceStore(home, ResourceSettings(ollama_registry=registry.url))


def test_a_model_is_laid_out_as_ollama_reads_it(tmp_path: Path, registry: RegistryStandIn) -> None:
    manifest = registry.add_model(
        "library/qwen3:0.6b",
        {"application/vnd.ollama.image.model": GGUF, "application/vnd.ollama.image.template": TEMPLATE},
    )
    fetched = _store(tmp_path, registry).fetch(resource({"type": "Ollama", "model": "qwen3:0.6b"}))
    files = {str(p.relative_to(fetched.path)) for p in fetched.path.rglob("*") if p.is_file()}
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    assert files == {"manifests/registry.ollama.ai/library/qwen3/0.6b"} | {
        f"blobs/{d.replace(':', '-')}" for d in digests
    }
    stored = json.loads((fetched.path / "manifests/registry.ollama.ai/library/qwen3/0.6b").read_bytes())
    assert stored == manifest
    gguf = fetched.path / "blobs" / manifest["layers"][0]["digest"].replace(":", "-")
    assert gguf.read_bytes() == GGUF
    assert any(
        r.startswith("GET /store/sha256:") for r in registry.requests
    )  # blobs came through the redirect
    served = registry.bytes_served
    again = _store(tmp_path, registry).fetch(resource({"type": "Ollama", "model": "library/qwen3:0.6b"}))
    assert again.path == fetched.path and again.fetched_bytes == 0
    assert registry.bytes_served - served == len(
        registry.manifests["library/qwen3:0.6b"]
    )  # the manifest only


def test_a_blob_that_does_not_match_its_digest_is_refused(tmp_path: Path, registry: RegistryStandIn) -> None:
    registry.add_model("library/bad:latest", {"application/vnd.ollama.image.model": GGUF}, corrupt=True)
    with pytest.raises(ChecksumMismatch) as caught:
        _store(tmp_path, registry).fetch(resource({"type": "Ollama", "model": "bad"}))
    assert str(caught.value).startswith("Ollama resource bad: blobs/sha256-")
    assert "sha256 is " in str(caught.value) and "expected " in str(caught.value)
    root = tmp_path / "resources"
    assert [p.name for p in (root / "blobs").iterdir()] == [
        hashlib.sha256(registry.manifests["library/bad:latest"]).hexdigest()
    ]
    assert list((root / "trees").iterdir()) == [] and list((root / "tmp").iterdir()) == []


def test_unknown_model_and_unreachable_registry(tmp_path: Path, registry: RegistryStandIn) -> None:
    with pytest.raises(ResourceNotFound, match=r"^Ollama resource nope:7b: manifest 7b: not found \(404\)$"):
        _store(tmp_path, registry).fetch(resource({"type": "Ollama", "model": "nope:7b"}))
    dead = ResourceStore(tmp_path, ResourceSettings(ollama_registry=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(
        SourceUnreachable, match=r"^Ollama resource qwen3: manifest latest: cannot reach the registry"
    ):
        dead.fetch(resource({"type": "Ollama", "model": "qwen3"}))


def test_model_names() -> None:
    assert parse_model("qwen3:0.6b") == ("registry.ollama.ai", "library", "qwen3", "0.6b")
    assert parse_model("llama3.1") == ("registry.ollama.ai", "library", "llama3.1", "latest")
    assert parse_model("user/m:q4") == ("registry.ollama.ai", "user", "m", "q4")
    assert parse_model("reg.example:5000/team/m:1") == ("reg.example:5000", "team", "m", "1")
    for bad in ("", "a/b/c/d", "../x", "m:../../x"):
        with pytest.raises(ResourceError, match="not a model name"):
            parse_model(bad)
