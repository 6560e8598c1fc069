"""A market job's resources reach public endpoints only (the guard), against real loopback servers.

The S3, hub and registry servers listen on loopback: a guarded fetch must refuse them before a
request leaves; names mapped by an injected resolver stand for hosts of other networks, and an
allowance by name proves the connection goes to the checked address (the name exists nowhere else).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from nosana_node.addresses import Allowance
from nosana_node.resources import ResourceRefused, ResourceSettings, ResourceStore
from nosana_node.resources.guard import AddressGuard
from tests.resources.conftest import resource, s3_client
from tests.resources.servers import HubRepo, HubStandIn, RegistryStandIn, _Server

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def resolver(names: dict[str, str]) -> Any:
    """``getaddrinfo`` with ``names`` mapped to one address each (others: the real resolver)."""

    def resolve(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host in names:
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return socket.getaddrinfo(host, port, **kwargs)

    return resolve


class Counting(_Server):
    """Answers every request 404 and counts it (the endpoint a refused job named)."""

    def route(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        return 404, {}, b""


@pytest.fixture
def counting() -> Iterator[Counting]:
    with Counting() as server:
        yield server


@pytest.fixture(scope="module")
def models(s3_endpoint: str) -> str:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="guarded")
    client.put_object(Bucket="guarded", Key="m/w.bin", Body=b"weights", ACL="public-read")
    return "guarded"


def _s3(url: str) -> Any:
    return resource({"type": "S3", "url": url, "bucket": "guarded", "target": "/m"})


@pytest.mark.parametrize(
    ("host", "names", "shown"),
    [
        ("127.0.0.1", {}, "127.0.0.1"),
        ("localhost", {}, "127.0.0.1"),
        ("metadata.example", {"metadata.example": "169.254.169.254"}, "169.254.169.254"),
        ("intranet.example", {"intranet.example": "10.0.0.5"}, "10.0.0.5"),
        ("v6.example", {"v6.example": "::1"}, "::1"),
    ],
)
def test_a_market_job_naming_a_private_s3_endpoint_is_refused_before_any_request(
    tmp_path: Path, counting: Counting, host: str, names: dict[str, str], shown: str
) -> None:
    port = urlsplit(counting.url).port
    store = ResourceStore(tmp_path, ResourceSettings(), guard=AddressGuard(resolve=resolver(names)))
    url = f"http://{host}:{port}/guarded/m"
    with pytest.raises(ResourceRefused) as refused:
        store.fetch(_s3(url))
    message = str(refused.value)
    assert message.startswith(f"S3 resource {url}: refused: the endpoint {host} resolves to {shown}")
    assert ":jobdef :allow-private" in message and "\n" not in message
    assert counting.requests == []


def test_the_configured_s3_endpoint_is_checked_too(tmp_path: Path, counting: Counting) -> None:
    store = ResourceStore(tmp_path, ResourceSettings(s3_endpoint=counting.url), guard=AddressGuard())
    with pytest.raises(ResourceRefused, match=r"^S3 resource s3://guarded/m: refused"):
        store.fetch(resource({"type": "S3", "url": "s3://guarded/m", "target": "/m"}))
    assert counting.requests == []


def test_an_allowed_endpoint_is_reached_at_its_checked_address(
    tmp_path: Path, s3_endpoint: str, models: str
) -> None:
    port = urlsplit(s3_endpoint).port
    guard = AddressGuard(Allowance.parse(["s3host"]), resolver({"s3host": "127.0.0.1"}))
    store = ResourceStore(tmp_path, ResourceSettings(), guard=guard)
    fetched = store.fetch(_s3(f"http://s3host:{port}/guarded/m"))  # the name resolves nowhere else
    assert (fetched.path / "w.bin").read_bytes() == b"weights"


def test_an_allowed_network_lets_the_endpoint_through(tmp_path: Path, s3_endpoint: str, models: str) -> None:
    store = ResourceStore(tmp_path, ResourceSettings(), guard=AddressGuard(Allowance.parse(["127.0.0.0/8"])))
    fetched = store.fetch(_s3(f"{s3_endpoint}/guarded/m"))
    assert (fetched.path / "w.bin").read_bytes() == b"weights"


def test_without_a_guard_private_endpoints_serve(tmp_path: Path, s3_endpoint: str, models: str) -> None:
    fetched = ResourceStore(tmp_path, ResourceSettings()).fetch(_s3(f"{s3_endpoint}/guarded/m"))  # job run
    assert (fetched.path / "w.bin").read_bytes() == b"weights"


def test_a_redirect_to_loopback_is_refused(tmp_path: Path) -> None:
    with RegistryStandIn() as registry:
        registry.add_model("library/tiny:1", {"application/vnd.ollama.image.model": b"GGUF" * 100})
        port = urlsplit(registry.url).port
        guard = AddressGuard(
            Allowance.parse(["registry.example"]), resolver({"registry.example": "127.0.0.1"})
        )
        settings = ResourceSettings(ollama_registry=f"http://registry.example:{port}")
        store = ResourceStore(tmp_path, settings, guard=guard)
        with pytest.raises(ResourceRefused) as refused:
            store.fetch(resource({"type": "Ollama", "model": "tiny:1"}))
        assert str(refused.value).startswith(
            "Ollama resource tiny:1: refused: the endpoint 127.0.0.1 resolves"
        )
        assert any("/manifests/" in r for r in registry.requests)  # the allowed registry answered
        assert any("/blobs/" in r for r in registry.requests)  # … and redirected
        assert not any("/store/" in r for r in registry.requests)  # the target was never reached


def test_an_ollama_registry_named_by_the_job_is_checked(tmp_path: Path, counting: Counting) -> None:
    port = urlsplit(counting.url).port
    store = ResourceStore(tmp_path, ResourceSettings(), guard=AddressGuard())
    with pytest.raises(ResourceRefused, match=r"^Ollama resource localhost:\d+/tiny:1: refused"):
        store.fetch(resource({"type": "Ollama", "model": f"localhost:{port}/tiny:1"}))
    assert counting.requests == []


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with HubStandIn() as server:
        server.repos["org/tiny"] = HubRepo(COMMIT, {"config.json": b"{}"})
        yield server


def test_a_private_hf_endpoint_is_refused_for_a_market_job(tmp_path: Path, hub: HubStandIn) -> None:
    store = ResourceStore(tmp_path, ResourceSettings(hf_endpoint=hub.url), guard=AddressGuard())
    with pytest.raises(
        ResourceRefused, match=r"^HF resource org/tiny@main: refused: the endpoint 127\.0\.0\.1"
    ):
        store.fetch(resource({"type": "HF", "repo": "org/tiny", "target": "/hf"}))
    assert hub.requests == []
    allowed = AddressGuard(Allowance.parse(["127.0.0.1"]))
    fetched = ResourceStore(tmp_path, ResourceSettings(hf_endpoint=hub.url), guard=allowed).fetch(
        resource({"type": "HF", "repo": "org/tiny", "target": "/hf"})
    )
    assert (fetched.path / "config.json").read_bytes() == b"{}"
    unguarded = ResourceStore(tmp_path / "local", ResourceSettings(hf_endpoint=hub.url))
    assert unguarded.fetch(resource({"type": "HF", "repo": "org/tiny", "target": "/hf"})).files == 1


@pytest.mark.parametrize("entry", ["", "a b", "host/path"])
def test_a_malformed_allowance_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="neither a host name nor a network"):
        Allowance.parse([entry])


def test_the_allowance_comes_from_the_configuration_and_is_checked_there() -> None:
    from dataclasses import replace

    from nosana_node.config.schema import JobdefConfig, NodeConfig
    from nosana_node.errors import ConfigError
    from nosana_node.wiring import jobdef_settings

    config = replace(NodeConfig(), jobdef=JobdefConfig(allow_private=("minio.lan", "10.1.0.0/16")))
    assert jobdef_settings(config).resources.allow_private == ("minio.lan", "10.1.0.0/16")
    bad = replace(NodeConfig(), jobdef=JobdefConfig(allow_private=("10.1.0.0/16 extra",)))
    with pytest.raises(ConfigError, match=r"^:jobdef :allow-private: '10.1.0.0/16 extra' is neither"):
        jobdef_settings(bad)
