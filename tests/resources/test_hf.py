"""Hugging Face resources: huggingface_hub pointed at a local stand-in of the hub (its HTTP protocol)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.resources import ChecksumMismatch, ResourceNotFound, ResourceSettings, ResourceStore
from tests.resources.conftest import resource
from tests.resources.servers import HubRepo, HubStandIn

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "config.json": b'{"model_type": "llama"}',
    "model.safetensors": os.urandom(50_000),
    "sub/tok.txt": b"abc",
}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "the-operators-own-token-never-sent")
    with HubStandIn() as server:
        server.repos["org/tiny"] = HubRepo(COMMIT, dict(FILES))
        server.repos["org/private"] = HubRepo(COMMIT, {"w.bin": b"secret weights"}, token="hf_job_token")
        yield server


def _store(home: Path, hub: HubStandIn) -> ResourceStore:
    return ResourceStore(home, ResourceSettings(hf_endpoint=hub.url))


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_repository_at_a_revision(tmp_path: Path, hub: HubStandIn) -> None:
    fetched = _store(tmp_path, hub).fetch(resource({"type": "HF", "repo": "org/tiny", "target": "/hf"}))
    assert _tree(fetched.path) == FILES
    assert all(
        "/resolve/" + COMMIT + "/" in r for r in hub.requests if "/resolve/" in r
    )  # pinned to the commit
    assert set(hub.authorizations) == {""}  # the operator's HF_TOKEN is not sent for a job
    again = _store(tmp_path, hub).fetch(resource({"type": "HF", "repo": "org/tiny", "target": "/x"}))
    assert again.path == fetched.path and again.fetched_bytes == 0


def test_files_and_a_pinned_commit_are_not_asked_again(tmp_path: Path, hub: HubStandIn) -> None:
    spec = resource(
        {
            "type": "HF",
            "repo": "org/tiny",
            "revision": COMMIT,
            "files": ["model.safetensors"],
            "target": "/hf",
        }
    )
    fetched = _store(tmp_path, hub).fetch(spec)
    assert _tree(fetched.path) == {"model.safetensors": FILES["model.safetensors"]}
    asked = len(hub.requests)
    assert _store(tmp_path, hub).fetch(spec).path == fetched.path
    assert len(hub.requests) == asked  # a commit pins the content: served from the cache alone


def test_tokens_missing_things_and_checksums(tmp_path: Path, hub: HubStandIn) -> None:
    store = _store(tmp_path, hub)
    private = {"type": "HF", "repo": "org/private", "target": "/hf"}
    with pytest.raises(
        ResourceNotFound, match=r"^HF resource org/private@main: repository info: repository not found"
    ):
        store.fetch(resource(private))
    assert _tree(store.fetch(resource({**private, "accessToken": "hf_job_token"})).path) == {
        "w.bin": b"secret weights"
    }
    assert hub.authorizations[-1] == "Bearer hf_job_token"
    with pytest.raises(
        ResourceNotFound, match=r"^HF resource org/tiny@v2: repository info: revision not found"
    ):
        store.fetch(resource({"type": "HF", "repo": "org/tiny", "revision": "v2", "target": "/hf"}))
    with pytest.raises(
        ResourceNotFound, match=r"^HF resource org/tiny@main: no 'nope.bin' in the repository"
    ):
        store.fetch(resource({"type": "HF", "repo": "org/tiny", "files": ["nope.bin"], "target": "/hf"}))
    hub.repos["org/tiny"].corrupt.add("model.safetensors")
    fresh = ResourceStore(tmp_path / "other", ResourceSettings(hf_endpoint=hub.url))
    with pytest.raises(ChecksumMismatch, match=r"^HF resource org/tiny@main: model.safetensors: sha256 is"):
        fresh.fetch(resource({"type": "HF", "repo": "org/tiny", "target": "/hf"}))
    assert list((tmp_path / "other" / "resources" / "trees").iterdir()) == []
