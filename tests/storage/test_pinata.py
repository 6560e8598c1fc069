"""The pinata backend against the Pinata stand-in: JWT from the vault, masked; reads through a
gateway; put, put_json, pin, has; refused JWT, wrong answers and retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nosana_node.config.load import load_config
from nosana_node.config.options import ConfigOptions
from nosana_node.storage import open_storage
from nosana_node.storage.dag import cid_of
from nosana_node.storage.errors import BackendRefusedError, ContentMismatchError
from nosana_node.storage.http import HttpOptions
from nosana_node.storage.pinata import PinataStorage
from tests.cli import run_cli
from tests.storage.pinata_standin import PinataStandIn
from tests.storage.servers import AppThread
from tests.storage.vectors import content

JWT = "eyJhbGciOiJIUzI1NiJ9.stand-in-token.c2lnbmF0dXJl"


@dataclass
class Pinata:
    standin: PinataStandIn
    api_url: str
    gateway_url: str
    config: Path


@pytest.fixture
def pinata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pinata]:
    standin = PinataStandIn(tmp_path / "pinata", JWT)
    with AppThread(standin.api_app()) as api, AppThread(standin.gateway_app()) as gateway:
        config = tmp_path / "config.edn"
        config.write_text(
            f"""{{:home "{tmp_path / "home" / ".nosana-node"}"
              :storage {{:backend :pinata
                         :pinata-url "{api.url}"
                         :pinata-jwt "pinata#jwt"
                         :gateways ["{gateway.url}"]
                         :retries 0}}
              :secrets {{"pinata" {{:jwt #env PINATA_TEST_JWT}}}}}}"""
        )
        monkeypatch.setenv("PINATA_TEST_JWT", JWT)
        yield Pinata(standin, api.url, gateway.url, config)


def _open(p: Pinata) -> PinataStorage:
    loaded = load_config(ConfigOptions(config=p.config))
    storage = open_storage(loaded.config, config_file=loaded.file)
    assert isinstance(storage, PinataStorage)
    return storage


def test_put_get_pin_has_with_the_jwt_from_the_vault(pinata: Pinata) -> None:
    data = content(262_145)
    with _open(pinata) as storage:
        cid = storage.put(data)
        assert cid == cid_of(data)
        assert storage.get(cid) == data  # through the gateway, verified
        assert storage.has(cid)
        assert not storage.has(cid_of(b"never pinned"))
        storage.pin(cid)
    assert {auth for _m, _p, auth in pinata.standin.requests} == {f"Bearer {JWT}"}
    paths = [p for _m, p, _a in pinata.standin.requests]
    assert paths == ["/pinning/pinFileToIPFS", "/data/pinList", "/data/pinList", "/pinning/pinByHash"]


def test_json_documents_go_through_pin_json(pinata: Pinata) -> None:
    document = {"type": "Pipeline", "pipeline": "global:\n  image: ubuntu\n", "note": "café"}
    with _open(pinata) as storage:
        cid = storage.put_json(document)
        assert json.loads(storage.get(cid)) == document
    assert cid == cid_of(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    assert ("POST", "/pinning/pinJSONToIPFS", f"Bearer {JWT}") in pinata.standin.requests


def test_a_refused_jwt_is_one_clear_line_without_the_jwt(pinata: Pinata, tmp_path: Path) -> None:
    with (
        PinataStorage(pinata.api_url, "wrong-jwt-value", [pinata.gateway_url], HttpOptions(retries=0)) as bad,
        pytest.raises(BackendRefusedError) as info,
    ):
        bad.put(b"x")
    message = str(info.value)
    assert "Pinata refused the JWT" in message and "INVALID_CREDENTIALS" in message
    assert "wrong-jwt-value" not in message


def test_an_ipfs_hash_that_does_not_match_the_content_is_refused(pinata: Pinata) -> None:
    original = pinata.standin.pin_file

    async def lying(request):  # type: ignore[no-untyped-def]
        response = await original(request)
        doc = json.loads(response.text or "{}")
        doc["IpfsHash"] = str(cid_of(b"something else"))
        return type(response)(text=json.dumps(doc), content_type="application/json")

    pinata.standin.pin_file = lying  # type: ignore[method-assign]
    app_thread = AppThread(pinata.standin.api_app())
    with (
        app_thread,
        PinataStorage(app_thread.url, JWT, [pinata.gateway_url]) as storage,
        pytest.raises(ContentMismatchError, match="they hash to"),
    ):
        storage.put(b"honest bytes")


def test_unavailable_answers_are_retried_with_backoff(pinata: Pinata) -> None:
    pinata.standin.fail_next = 2
    delays: list[float] = []
    with PinataStorage(pinata.api_url, JWT, [pinata.gateway_url], HttpOptions(retries=2)) as storage:
        storage.endpoint._sleep = delays.append
        storage.endpoint._jitter = lambda: 1.0
        assert storage.put(b"after two 503s") == cid_of(b"after two 503s")
    assert delays == [0.5, 1.0]  # exponential from 0.5 s (jitter at its top)
    assert [p for _m, p, _a in pinata.standin.requests] == ["/pinning/pinFileToIPFS"] * 3


def test_the_cli_puts_through_pinata_and_never_shows_the_jwt(pinata: Pinata, tmp_path: Path) -> None:
    doc = tmp_path / "result.json"
    doc.write_text('{"status": "success"}')
    env = {"PINATA_TEST_JWT": JWT}
    put = run_cli("--config", str(pinata.config), "storage", "put", str(doc), "--json", env=env)
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["cid"] == str(cid_of(doc.read_bytes()))
    shown = run_cli("--config", str(pinata.config), "config", "show", "storage", env=env)
    assert "pinata#jwt" in shown.stdout
    refused = run_cli(
        "--config",
        str(pinata.config),
        "storage",
        "put",
        str(doc),
        env={"PINATA_TEST_JWT": "not-the-jwt-1234"},
    )
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Pinata refused the JWT" in refused.stderr
    for out in (put.stdout, put.stderr, shown.stdout, refused.stdout, refused.stderr):
        assert JWT not in out and "not-the-jwt-1234" not in out
