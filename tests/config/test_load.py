"""The effective configuration: precedence flag > env > file > default, provenance of each value,
typed environment access, validation, the keypair, and config.edn.example."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nosana_node.config.load import Flag, load_config
from nosana_node.config.options import ConfigOptions
from nosana_node.config.schema import SETTINGS, get
from nosana_node.errors import ConfigError
from nosana_node.secrets.masking import MASK, process_masker
from nosana_node.secrets.value import Secret

Write = Callable[..., Path]
REPO = Path(__file__).resolve().parents[2]
KEYPAIR = json.dumps([(i * 7 + 3) % 256 for i in range(64)])


def opts(path: Path | None = None, profile: str | None = None, *sets: str) -> ConfigOptions:
    return ConfigOptions(config=path, profile=profile, overrides=tuple(sets))


def fails(*args: object, **kw: object) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(*args, **kw)  # type: ignore[arg-type]
    assert exc.value.exit_code == 2
    return str(exc.value)


def test_defaults_without_a_file(clean_env: Path) -> None:
    loaded = load_config()
    cfg = loaded.config
    assert loaded.file is None and str(loaded.file_source).startswith("default (none:")
    assert cfg.home == clean_env / ".nosana-node"
    assert cfg.network == "devnet" and cfg.rpc_url == "https://api.devnet.solana.com"
    assert cfg.storage.max_artifact_size == 4 << 30 and cfg.docker.gpus is None
    assert cfg.docker.memory == 4 << 30 and cfg.docker.pids == 4096 and cfg.docker.timeout == 3600
    assert cfg.vault.backend == "config" and cfg.keypair is None and cfg.secrets == {}
    assert str(loaded.sources["rpc-url"]) == "default (for network devnet)"
    assert str(loaded.sources["docker.pids"]) == "default"


def test_precedence_and_provenance(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write('{:docker {:memory "1g" :pids 100 :cpus 0.5 :timeout "2m"} :network :localnet}')
    monkeypatch.setenv("NOSANA_DOCKER_PIDS", "200")
    monkeypatch.setenv("NOSANA_DOCKER_CPUS", "1.5")
    monkeypatch.setenv("NOSANA_DOCKER_TIMEOUT", "90s")
    loaded = load_config(
        opts(path, None, "docker.cpus=2", "docker.timeout=10m"),
        flags={"docker.timeout": Flag("1h", "--timeout"), "docker.gpus": None},
    )
    cfg, src = loaded.config, loaded.sources
    assert (cfg.docker.memory, str(src["docker.memory"])) == (1 << 30, f"file {path}")
    assert (cfg.docker.pids, str(src["docker.pids"])) == (200, "env NOSANA_DOCKER_PIDS")
    assert (cfg.docker.cpus, str(src["docker.cpus"])) == (2.0, "flag --set docker.cpus")
    assert (cfg.docker.timeout, str(src["docker.timeout"])) == (3600.0, "flag --timeout")
    assert (cfg.docker.gpus, str(src["docker.gpus"])) == (None, "default")  # a None flag is "not given"
    assert cfg.rpc_url == "http://127.0.0.1:8899" and str(src["network"]) == f"file {path}"


def test_provenance_names_the_tags(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_RPC", "https://rpc.example.com")
    path = write("{:rpc-url #or [#env NODE_TEST_UNSET #env NODE_TEST_RPC] :market #env NODE_TEST_UNSET}")
    loaded = load_config(opts(path))
    assert loaded.config.rpc_url == "https://rpc.example.com"
    assert str(loaded.sources["rpc-url"]) == f"file {path} via #or, #env NODE_TEST_RPC"
    assert str(loaded.sources["market"]) == f"default ({path} gave nil via #env NODE_TEST_UNSET)"


def test_config_file_discovery(write: Write, monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    home_cfg = clean_env / ".nosana-node" / "config.edn"
    home_cfg.parent.mkdir()
    home_cfg.write_text("{:docker {:pids 111}}")
    assert load_config().config.docker.pids == 111
    assert load_config().file == home_cfg
    other = write("{:docker {:pids 222}}")
    monkeypatch.setenv("NOSANA_CONFIG", str(other))
    loaded = load_config()
    assert loaded.config.docker.pids == 222 and str(loaded.file_source) == "env NOSANA_CONFIG"
    flagged = write("{:docker {:pids 333}}", "flagged.edn")
    assert load_config(opts(flagged)).config.docker.pids == 333
    # a home given by flag or env moves the default file too
    monkeypatch.delenv("NOSANA_CONFIG")
    (clean_env / "h2").mkdir()
    (clean_env / "h2" / "config.edn").write_text("{:docker {:pids 444}}")
    monkeypatch.setenv("NOSANA_HOME", str(clean_env / "h2"))
    assert load_config().config.docker.pids == 444
    assert (
        fails(opts(clean_env / "absent.edn"))
        == f"configuration file {clean_env / 'absent.edn'} (flag --config) does not exist"
    )


def test_profile_from_flag_or_env(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write("{:docker {:pids #profile {:dev 100 :prod 900 :default 500}}}")
    assert load_config(opts(path)).config.docker.pids == 500
    monkeypatch.setenv("NOSANA_PROFILE", "prod")
    loaded = load_config(opts(path))
    assert (
        loaded.config.docker.pids == 900
        and loaded.profile == "prod"
        and str(loaded.profile_source) == "env NOSANA_PROFILE"
    )
    loaded = load_config(opts(path, "dev"))
    assert loaded.config.docker.pids == 100 and str(loaded.profile_source) == "flag --profile"
    assert "profile 'bad name!'" in fails(opts(path, "bad name!"))


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("NOSANA_DOCKER_PIDS", "many", "environment variable NOSANA_DOCKER_PIDS: Not a valid integer."),
        (
            "NOSANA_DOCKER_PIDS",
            "3",
            "environment variable NOSANA_DOCKER_PIDS: cannot read 3 as a number >= 16",
        ),
        ("NOSANA_DOCKER_CPUS", "lots", "environment variable NOSANA_DOCKER_CPUS: Not a valid number."),
        (
            "NOSANA_DOCKER_GPUS",
            "some",
            "environment variable NOSANA_DOCKER_GPUS: cannot read 'some' as a GPU request",
        ),
        (
            "NOSANA_DOCKER_MEMORY",
            "2 bananas",
            "environment variable NOSANA_DOCKER_MEMORY: cannot read '2 bananas' as a size",
        ),
        (
            "NOSANA_NETWORK",
            "testnet",
            "environment variable NOSANA_NETWORK: cannot read 'testnet' as one of mainnet",
        ),
        (
            "NOSANA_PORTS_RPC",
            "70000",
            "environment variable NOSANA_PORTS_RPC: cannot read 70000 as a number <= 65535",
        ),
    ],
)
def test_typed_environment_errors(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(var, value)
    assert fails().startswith(expected)


def test_typed_environment_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var, value in {
        "NOSANA_DOCKER_MEMORY": "512m", "NOSANA_DOCKER_GPUS": "all", "NOSANA_DOCKER_TIMEOUT": "1.5h",
        "NOSANA_HOME": str(tmp_path / "h"), "NOSANA_LOG_LEVEL": "WARN",
        "NOSANA_NETWORK": "mainnet-beta", "NOSANA_VAULT_KV_VERSION": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(var, value)
    cfg = load_config().config
    assert cfg.docker.memory == 512 << 20 and cfg.docker.gpus == -1 and cfg.docker.timeout == 5400
    assert cfg.home == tmp_path / "h" and cfg.log.level == "warning" and cfg.network == "mainnet"
    assert cfg.vault.kv_version == 1 and cfg.rpc_url == "https://api.mainnet-beta.solana.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{:docker {:memroy 1}}", "unknown key [:docker :memroy] (did you mean :memory?)"),
        ("{:netwrok :devnet}", "unknown key [:netwrok] (did you mean :network?)"),
        ("{:docker 5}", "[:docker]: expected a map {...} of settings"),
        ('{:docker {:pids "many"}}', "[:docker :pids]: cannot read 'many' as an integer"),
        (
            "{:docker {:pids #env NODE_TEST_WORD}}",
            "[:docker :pids]: cannot read 'word' (via #env NODE_TEST_WORD) as an integer",
        ),
        ("{:log {:level :loud}}", "[:log :level]: cannot read 'loud' as one of debug, info, warning, error"),
        ("{:secrets [1 2]}", "[:secrets]: cannot read a secret value as a map"),
    ],
)
def test_file_value_errors(write: Write, monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    monkeypatch.setenv("NODE_TEST_WORD", "word")
    path = write(text)
    assert fails(opts(path)).startswith(f"{path}: {expected}")


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            ("docker.memroy=1g",),
            "--set: unknown configuration key 'docker.memroy' (did you mean docker.memory?)",
        ),
        (("docker.memory",), "--set 'docker.memory': expected KEY=VALUE, e.g. --set docker.memory=4g"),
        (("docker.pids=x",), "--set docker.pids: cannot read 'x' as an integer"),
        (("vault.token=tok-on-cli",), None),
    ],
)
def test_set_overrides(sets: tuple[str, ...], expected: str | None) -> None:
    if expected is None:
        loaded = load_config(opts(None, None, *sets))
        assert loaded.config.vault.token == Secret("tok-on-cli")
        assert str(loaded.sources["vault.token"]) == "flag --set vault.token"
        return
    assert fails(opts(None, None, *sets)) == expected


def test_unknown_command_flag_key_is_a_bug_caught() -> None:
    assert fails(flags={"docker.nope": 1}).startswith("flag: unknown configuration key 'docker.nope'")


# -- secrets -------------------------------------------------------------------------------------


def test_keypair_from_file_is_secret(write: Write) -> None:
    kp = write(KEYPAIR + "\n", "id.json", 0o600)
    path = write('{:keypair #file "id.json"}')
    loaded = load_config(opts(path))
    assert isinstance(loaded.config.keypair, Secret) and loaded.config.keypair.reveal() == KEYPAIR
    assert (
        "keypair" in loaded.secret_keys and str(loaded.sources["keypair"]) == f"file {path} via #file id.json"
    )
    assert KEYPAIR not in repr(loaded.config) and KEYPAIR not in str(loaded.config.keypair)
    assert process_masker().mask(f"key {KEYPAIR}") == f"key {MASK}"
    # the path form reads the same file, with the same permission check
    assert load_config(opts(None, None, f"keypair={kp}")).config.keypair == loaded.config.keypair


def test_keypair_refused_when_readable_by_others(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    kp = write(KEYPAIR, "id.json", 0o644)
    message = fails(opts(write('{:keypair #file "id.json"}')))
    assert f"run `chmod 600 {kp}`" in message and KEYPAIR not in message
    message = fails(opts(None, None, f"keypair={kp}"))
    assert message == (
        f"--set keypair: keypair file {kp} is accessible by group or others (mode 0644); "
        f"it holds a secret: run `chmod 600 {kp}`"
    )
    monkeypatch.setenv("NOSANA_KEYPAIR", str(kp))
    assert fails().startswith(f"environment variable NOSANA_KEYPAIR: keypair file {kp} is accessible")


def test_keypair_content_checked_without_echo(write: Write) -> None:
    write("[1, 2, 3, 999]", "id.json", 0o600)
    message = fails(opts(write('{:keypair #file "id.json"}')))
    assert message.endswith(
        "cannot read a secret value (via #file id.json) as a Solana keypair"
        " (a JSON array of 64 numbers 0-255)"
    )
    assert "999" not in message


def test_file_secret_in_plain_key_stays_masked(write: Write) -> None:
    write("role-id-from-a-file", "role", 0o600)
    loaded = load_config(opts(write('{:vault {:role-id #file "role"}}')))
    assert loaded.config.vault.role_id == "role-id-from-a-file"
    assert "vault.role-id" in loaded.secret_keys
    assert process_masker().mask("role-id-from-a-file") == MASK


def test_secrets_map(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_DB", "db-secret-value")
    path = write(
        '{:secrets {"db/password" #env NODE_TEST_DB'
        ' "reg" {:user "ci" :password #env NODE_TEST_UNSET} :ns/x 5}}'
    )
    loaded = load_config(opts(path))
    secrets = loaded.config.secrets
    assert secrets["db/password"] == Secret("db-secret-value") and secrets["ns/x"] == Secret("5")
    assert secrets["reg"] == {"user": Secret("ci"), "password": None}
    assert str(loaded.secret_sources["db/password"]) == f"file {path} via #env NODE_TEST_DB"
    assert str(loaded.secret_sources["reg#password"]) == f"unset ({path} gave nil via #env NODE_TEST_UNSET)"
    assert "db-secret-value" not in repr(loaded.config)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "profile", "expected"),
    [
        (
            "{:vault {:backend :openbao}}",
            None,
            "vault.address (default): the openbao backend needs the vault address",
        ),
        (
            '{:vault {:backend :vault :address "http://v:8200"}}',
            None,
            "vault.token (default): vault auth token needs a token",
        ),
        (
            '{:vault {:backend :openbao :address "http://v:8200" :auth :approle :role-id "r"}}',
            None,
            "vault.secret-id",
        ),
        ('{:vault {:backend :openbao :address "v:8200" :token "t"}}', None, "is not an http(s):// URL"),
        ("{:vault {:skip-verify true}}", None, "vault.skip-verify (file "),
        ("{:vault {:skip-verify true}}", "prod", "skipping TLS verification is for development only"),
        ('{:vault {:client-key "k.pem"}}', None, "vault.client-key (file "),
        ('{:rpc-url "ftp://x"}', None, "rpc-url (file "),
        ('{:market "not-an-address!"}', None, "is neither a Solana address (base58)"),
        ('{:docker {:url "/var/run/docker.sock"}}', None, "use unix://, tcp://"),
    ],
)
def test_validation(write: Write, text: str, profile: str | None, expected: str) -> None:
    assert expected in fails(opts(write(text), profile))


def test_skip_verify_allowed_in_dev_profile(write: Write) -> None:
    path = write("{:vault {:skip-verify #profile {:dev true :default false}}}")
    assert load_config(opts(path, "dev")).config.vault.skip_verify is True
    assert load_config(opts(path)).config.vault.skip_verify is False


# -- config.edn.example ----------------------------------------------------------------------------


def test_example_loads_as_is_and_documents_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    example = REPO / "config.edn.example"
    text = example.read_text()
    for profile in (None, "dev"):
        loaded = load_config(opts(example, profile))
        assert loaded.file == example
    for s in SETTINGS:
        name = s.edn_name
        assert re.search(rf"[{{\s]:{re.escape(name)}\s", text), f"config.edn.example lacks :{name}"
        if s.section:
            assert re.search(rf":{s.section}\s+\{{", text), f"config.edn.example lacks section :{s.section}"
    # every value the example sets equals the documented default (or is computed from the env)
    loaded = load_config(opts(example))
    for s in SETTINGS:
        if (
            s.default is not None
            and s.key not in ("secrets",)
            and str(loaded.sources[s.key]).startswith("file")
        ):
            assert get(loaded.config, s.key) == s.default, s.key


def test_example_prod_profile_needs_a_private_keypair(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = REPO / "config.edn.example"
    monkeypatch.setenv("VAULT_TOKEN", "prod-token-value")
    message = fails(opts(example, "prod"))
    assert message.endswith(f"[:keypair] #file: file {clean_env}/.config/solana/id.json does not exist")
    kp = clean_env / ".config" / "solana" / "id.json"
    kp.parent.mkdir(parents=True)
    kp.write_text(KEYPAIR)
    kp.chmod(0o600)
    loaded = load_config(opts(example, "prod"))
    assert loaded.config.network == "mainnet" and loaded.config.vault.backend == "openbao"
    assert loaded.config.vault.token == Secret("prod-token-value") and loaded.config.keypair == Secret(
        KEYPAIR
    )
