"""`nosana-node config show` through the real command: every value explained, secrets masked."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from nosana_node.units import SIZE_EXPECTED
from tests.cli import run_cli

Write = Callable[..., Path]
KEYPAIR = json.dumps([(i * 11 + 5) % 256 for i in range(64)])
TOKEN = "hvs.config-show-token-9f8e7d"
DB = "db-password-for-config-show"
ROLE_SECRET = "secret-id-on-the-command-line"


def test_config_show_masks_secrets_and_explains_sources(write: Write, clean_env: Path) -> None:
    write(KEYPAIR, "id.json", 0o600)
    path = write(
        '{:keypair #file "id.json" :docker {:memory "1g"}'
        ' :vault {:backend :openbao :address "http://127.0.0.1:8200" :token #env NODE_VAULT_TOKEN}'
        ' :secrets {"db/password" #env NODE_DB}}'
    )
    env = {"HOME": str(clean_env), "NODE_VAULT_TOKEN": TOKEN, "NODE_DB": DB, "NOSANA_DOCKER_PIDS": "300"}
    args = (
        "--config",
        str(path),
        "--set",
        f"vault.secret-id={ROLE_SECRET}",
        "--set",
        "docker.cpus=1.5",
        "config",
        "show",
    )
    table = run_cli(*args, env=env)
    as_json = run_cli(*args, "--json", env=env)
    with_doc = run_cli(*args, "--doc", env=env)
    for result in (table, as_json, with_doc):
        assert result.returncode == 0, result.stderr
        for secret in (KEYPAIR, TOKEN, DB, ROLE_SECRET, base64.b64encode(TOKEN.encode()).decode()):
            assert secret not in result.stdout and secret not in result.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines() if line and not line.startswith(" ")}
    assert "[MASKED]" in lines["keypair"] and f"file {path} via #file id.json" in lines["keypair"]
    assert "[MASKED]" in lines["vault.token"] and "via #env NODE_VAULT_TOKEN" in lines["vault.token"]
    assert "[MASKED]" in lines["vault.secret-id"] and "flag --set vault.secret-id" in lines["vault.secret-id"]
    assert "[MASKED]" in lines["secrets.db/password"] and "via #env NODE_DB" in lines["secrets.db/password"]
    assert "1 GiB" in lines["docker.memory"] and f"file {path}" in lines["docker.memory"]
    assert "300" in lines["docker.pids"] and "env NOSANA_DOCKER_PIDS" in lines["docker.pids"]
    assert "1.5" in lines["docker.cpus"] and "flag --set docker.cpus" in lines["docker.cpus"]
    assert "default (for network devnet)" in lines["rpc-url"]
    assert lines["config"].startswith("config file") and str(path) in lines["config"]
    doc = json.loads(as_json.stdout)
    assert doc["settings"]["vault.token"] == {
        "value": "[MASKED]",
        "source": f"file {path} via #env NODE_VAULT_TOKEN",
        "doc": doc["settings"]["vault.token"]["doc"],
    }
    assert doc["settings"]["docker.memory"]["value"] == 1 << 30
    assert doc["config_file"] == {"value": str(path), "source": "flag --config"}
    assert "# Memory limit of each job container" in with_doc.stdout


def test_config_show_selected_keys(write: Write, clean_env: Path) -> None:
    result = run_cli("config", "show", "docker", "network", env={"HOME": str(clean_env)})
    assert result.returncode == 0, result.stderr
    keys = [line.split()[0] for line in result.stdout.splitlines()[3:]]
    assert keys[0] == "KEY" and set(keys[1:]) == {
        "network", "docker.url", "docker.api-timeout", "docker.pull-policy", "docker.cpus", "docker.memory",
        "docker.pids", "docker.timeout", "docker.max-log-size", "docker.gpus", "docker.network",
    }  # fmt: skip
    bad = run_cli("config", "show", "dokcer", env={"HOME": str(clean_env)})
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "error: config show: unknown key 'dokcer' (try `nosana-node config show`)"
    )


def test_config_errors_are_one_line_exit_2(write: Write, clean_env: Path) -> None:
    write(KEYPAIR, "id.json", 0o644)
    cases = [
        ('{:keypair #file "id.json"}', "chmod 600"),
        ("{:docker {:pids", "unexpected end of file"),
        ("{:docker {:pidz 1}}", "unknown key [:docker :pidz] (did you mean :pids?)"),
    ]
    for text, expected in cases:
        path = write(text)
        result = run_cli("--config", str(path), "config", "show", env={"HOME": str(clean_env)})
        assert result.returncode == 2
        assert result.stdout == ""
        assert (
            result.stderr.count("\n") == 1
            and result.stderr.startswith("error: ")
            and expected in result.stderr
        )
        assert "Traceback" not in result.stderr and KEYPAIR not in result.stderr


def test_example_config_shows(clean_env: Path) -> None:
    result = run_cli(
        "--config", "config.edn.example", "--profile", "dev", "config", "show", env={"HOME": str(clean_env)}
    )
    assert result.returncode == 0, result.stderr
    assert "rpc-url" in result.stdout and "#profile :dev, #join, #ref [:ports :rpc]" in result.stdout


def test_pipeline_run_with_a_bad_config_runs_nothing(write: Write, tmp_path: Path, clean_env: Path) -> None:
    pipeline = tmp_path / "p.yml"
    pipeline.write_text("global: {image: x}\njobs: [{name: a, commands: [echo hi]}]\n")
    home = tmp_path / "node-home"
    bad = write('{:docker {:memory "lots"}}')
    result = run_cli(
        "--config",
        str(bad),
        "pipeline",
        "run",
        str(pipeline),
        "--home",
        str(home),
        env={"HOME": str(clean_env)},
    )
    assert result.returncode == 2
    expected = f"cannot read 'lots' as {SIZE_EXPECTED}"
    assert result.stderr == f"error: {bad}: [:docker :memory]: {expected}\n"
    assert not home.exists()  # nothing ran, nothing was stored


def test_runner_flags_go_through_the_configuration(clean_env: Path) -> None:
    from nosana_node.cli.options import config_flags
    from nosana_node.config.load import load_config
    from nosana_node.config.options import ConfigOptions
    from nosana_node.wiring import runner_settings

    by_flag = load_config(flags=config_flags(timeout="1d", memory="512m", gpus="all", home=clean_env))
    by_set = load_config(
        ConfigOptions(
            overrides=("docker.timeout=1d", "docker.memory=512m", "docker.gpus=all", f"home={clean_env}")
        )
    )
    assert runner_settings(by_flag.config) == runner_settings(by_set.config)
    assert runner_settings(by_flag.config).job_timeout == 86400 and by_flag.config.docker.memory == 512 << 20
    assert str(by_flag.sources["docker.timeout"]) == "flag --timeout"
    assert str(by_set.sources["docker.timeout"]) == "flag --set docker.timeout"
    # a command flag wins over --set for the same key
    both = load_config(ConfigOptions(overrides=("docker.timeout=5m",)), config_flags(timeout="90s"))
    assert both.config.docker.timeout == 90 and str(both.sources["docker.timeout"]) == "flag --timeout"


def test_runner_settings_follow_the_configuration(write: Write, clean_env: Path) -> None:
    from nosana_node.config.load import load_config
    from nosana_node.config.options import ConfigOptions
    from nosana_node.settings import RunnerSettings
    from nosana_node.wiring import runner_settings

    defaults = runner_settings(load_config().config)
    assert defaults == RunnerSettings(home=clean_env / ".nosana-node")  # same defaults as the runner
    path = write(
        '{:home "/srv/node" :storage {:max-artifact-size "1g"} :docker {:url "tcp://engine:2375"'
        ' :api-timeout "30s" :cpus 0.5 :memory "1g" :pids 64 :timeout "10m" :max-log-size "1m"'
        ' :pull-policy :never :gpus :all :network "none"}}'
    )
    settings = runner_settings(load_config(ConfigOptions(config=path)).config)
    assert settings == RunnerSettings(
        home=Path("/srv/node"), docker_url="tcp://engine:2375", docker_timeout=30.0, cpus=0.5,
        memory=1 << 30, pids=64, job_timeout=600.0, log_cap=1 << 20, artifact_cap=1 << 30,
        pull_policy="never", gpus=-1, network="none",
    )  # fmt: skip
