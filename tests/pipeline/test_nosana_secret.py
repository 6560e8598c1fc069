"""``{type: nosana/secret, endpoint, value}``: from the vault by name, or from the Nosana secrets
manager the operator named (a stand-in speaking its protocol), refused clearly otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from solders.keypair import Keypair

from nosana_node.errors import SecretError
from nosana_node.flow.model import FlowStatus
from nosana_node.secrets.endpoint import NosanaSecrets, SecretsEndpoint, same_endpoint
from nosana_node.secrets.refs import SecretRef
from nosana_node.vault.config_backend import ConfigVault
from tests.corekit import IMAGE, cli_json, job_log, run_pipeline, write
from tests.docker.conftest import job_image  # noqa: F401 - the job image must exist; no container left
from tests.pipeline.secrets_manager import serve

NODE = Keypair()


class Impostor(SecretsEndpoint):
    """Claims to be NODE but signs with another key."""

    def login_payload(self, now: float | None = None) -> dict[str, object]:
        return {**super().login_payload(now), "address": str(NODE.pubkey())}


def test_same_endpoint() -> None:
    assert same_endpoint("https://Secrets.example.org/", "https://secrets.example.org:443")
    assert not same_endpoint("https://secrets.example.org", "http://secrets.example.org")
    assert not same_endpoint("https://a.example.org", "https://b.example.org")


def test_the_named_endpoint_is_asked_with_a_signed_login() -> None:
    with serve({str(NODE.pubkey()): {"npm-deploy-key": "npm_value_123"}}) as manager:
        resolver = NosanaSecrets(ConfigVault({}), SecretsEndpoint(manager.url + "/", NODE))
        ref = SecretRef(path="npm-deploy-key", endpoint=manager.url)
        assert resolver.resolve(ref) == "npm_value_123"
        (login,) = manager.logins
        assert login["address"] == str(NODE.pubkey()) and "job" not in login
        with pytest.raises(SecretError, match=r"secret missing \(nosana/secret of http.*not found at the"):
            resolver.resolve(SecretRef(path="missing", endpoint=manager.url))
        # the manager refuses a login signed by another key: the error names the endpoint
        impostor = Impostor(manager.url, Keypair())
        with pytest.raises(SecretError, match="answered HTTP 400"):
            NosanaSecrets(ConfigVault({}), impostor).resolve(ref)


def test_other_endpoints_are_never_contacted_the_vault_answers_by_name() -> None:
    with serve({str(NODE.pubkey()): {"TOKEN": "from-endpoint"}}) as manager:
        resolver = NosanaSecrets(
            ConfigVault({"TOKEN": "from-vault"}), SecretsEndpoint("https://elsewhere.example", NODE)
        )
        assert resolver.resolve(SecretRef(path="TOKEN", endpoint=manager.url)) == "from-vault"
        assert resolver.resolve(SecretRef(path="TOKEN")) == "from-vault"
        assert manager.logins == []
        with pytest.raises(SecretError) as info:
            resolver.resolve(SecretRef(path="ABSENT", endpoint=manager.url))
        assert str(info.value).startswith(
            f"secret ABSENT (nosana/secret of {manager.url}): not found in the :secrets map"
        )
        assert "`nosana-node vault put ABSENT value=-`" in str(
            info.value
        ) and ":vault :nosana-endpoint" in str(info.value)


def test_a_job_gets_its_nosana_secret_masked_and_a_missing_one_fails_before_its_container(home: Path) -> None:
    with serve({str(NODE.pubkey()): {"npm-deploy-key": "npm_value_123"}}) as manager:
        text = f"""\
global:
  image: {IMAGE}
  environment:
    NPM_TOKEN: {{type: nosana/secret, endpoint: "{manager.url}", value: npm-deploy-key}}
jobs:
  - name: publish
    commands: ['test "$NPM_TOKEN" = npm_value_123', 'echo "token $NPM_TOKEN"']
  - name: other
    environment:
      SECRET: {{type: "secret", endpoint: "http://localhost:4124", value: key-of-secret}}
    commands: [echo never]
"""
        resolver = NosanaSecrets(ConfigVault({}), SecretsEndpoint(manager.url, NODE))
        flow = run_pipeline(home, text, secrets=resolver)
    assert flow.states["publish"].status is not None and str(flow.states["publish"].status) == "succeeded"
    assert "token [MASKED]" in job_log(flow, "publish") and "npm_value_123" not in job_log(flow, "publish")
    assert flow.status is FlowStatus.FAILED
    error = flow.states["other"].error or ""
    assert error.startswith("secret key-of-secret (nosana/secret of http://localhost:4124): not found")
    assert flow.states["other"].log["received"] == 0  # no container output: it never started


def test_the_cli_uses_the_endpoint_and_keypair_of_the_configuration(tmp_path: Path, home: Path) -> None:
    with serve({str(NODE.pubkey()): {"DEPLOY": "deploy_value_456"}}) as manager:
        config = write(
            tmp_path,
            f'{{:keypair "{json.dumps(list(bytes(NODE)))}"\n :vault {{:nosana-endpoint "{manager.url}"}}}}\n',
            "config.edn",
        )
        path = write(
            tmp_path,
            f"global:\n  image: {IMAGE}\njobs:\n  - name: a\n    environment:\n"
            f'      D: {{type: nosana/secret, endpoint: "{manager.url}", value: DEPLOY}}\n'
            "    commands: ['test \"$D\" = deploy_value_456']\n",
        )
        proc, result = cli_json("--config", str(config), "pipeline", "run", str(path), home=home)
        assert proc.returncode == 0, proc.stderr
        assert result["status"] == "succeeded" and len(manager.logins) == 1
