"""Loading the effective configuration: flag > environment variable > config file > default.

The file is found from ``--config``, else ``NOSANA_CONFIG``, else ``<home>/config.edn`` when it
exists (no file: defaults only). The profile (for ``#profile``) comes from ``--profile``, else
``NOSANA_PROFILE``. Each setting's value is recorded with where it came from (:class:`Source`).
Secret values are held as :class:`~nosana_node.secrets.value.Secret` and registered with the
process masker as they are read.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nosana_node.config.edn import Traced, read_config_file, show_path
from nosana_node.config.files import expand
from nosana_node.config.options import ConfigOptions
from nosana_node.config.schema import BY_KEY, SECTIONS, SETTINGS, NodeConfig, Setting, build
from nosana_node.errors import ConfigError
from nosana_node.secrets.value import Secret

CONFIG_ENV = "NOSANA_CONFIG"
PROFILE_ENV = "NOSANA_PROFILE"
DEFAULT_HOME = "~/.nosana-node"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BASE58_ADDRESS = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")


@dataclass(frozen=True)
class Source:
    """Where a value came from: ``default``, ``file``, ``env`` or ``flag``, with details."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}" if self.detail else self.kind


@dataclass(frozen=True)
class Flag:
    """A value given by a command-line flag, with the flag's name for provenance."""

    value: Any
    label: str


@dataclass
class LoadedConfig:
    """The effective configuration and the provenance of each value."""

    config: NodeConfig
    sources: dict[str, Source]
    file: Path | None
    file_source: Source
    profile: str | None
    profile_source: Source
    secret_keys: set[str] = field(default_factory=set)
    #: provenance of each config-backend secret, by reference (``path`` or ``path#key``)
    secret_sources: dict[str, Source] = field(default_factory=dict)


def load_config(
    options: ConfigOptions | None = None,
    flags: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Load the effective configuration.

    ``flags`` maps dotted keys (``docker.memory``) to values given by command flags (plain values
    or :class:`Flag`); they win over ``--set`` overrides in ``options``, which win over
    environment variables (read from ``os.environ``), the file and defaults.
    """
    options = options or ConfigOptions()
    env_map = os.environ
    given = _flags(options, flags or {})

    profile, profile_source = _profile(options, env_map)
    path, file_source = _config_path(options, given, env_map)
    tree: dict[str, Traced] = {}
    if path is not None:
        root = read_config_file(path, profile, env_map)
        tree = _check_keys(root, path)

    env = _LazyEnv()
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    secret_keys: set[str] = set()
    for s in SETTINGS:
        value, source, secret = _value(s, given, env, env_map, tree, path)
        values[s.key], sources[s.key] = value, source
        if secret or s.kind.secret:
            secret_keys.add(s.key)
            if isinstance(value, str):  # a non-secret kind fed from a #file: keep it masked
                Secret(value)

    _derive(values, sources)
    config = build(values)
    _validate(config, profile, sources)
    loaded = LoadedConfig(config, sources, path, file_source, profile, profile_source, secret_keys)
    if "secrets" in tree and isinstance(tree["secrets"].value, dict):
        loaded.secret_sources = _secret_sources(tree["secrets"].value)
    return loaded


class _LazyEnv:
    """``environs.Env``, imported on first use: most runs set no NOSANA_* variable (start-up time)."""

    _env: Any = None

    def str(self, var: str, default: str | None = None) -> str | None:
        """Plain strings need no parsing, hence no environs."""
        return os.environ.get(var, default)

    def path(self, var: str, default: Path | None = None) -> Path | None:
        """Paths neither (NOSANA_HOME is set on most runs)."""
        value = os.environ.get(var)
        return Path(value) if value is not None else default

    def __getattr__(self, name: str) -> Any:
        if self._env is None:
            from environs import Env

            self._env = Env()
        return getattr(self._env, name)


def _secret_sources(entries: dict[str, Traced]) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for path, node in entries.items():
        children = node.value.items() if isinstance(node.value, dict) else [(None, node)]
        for key, child in children:
            ref = f"{path.strip('/')}#{key}" if key is not None else path.strip("/")
            if child.value is None:
                via = f" via {', '.join(child.via)}" if child.via else ""
                out[ref] = Source("unset", f"({child.file} gave nil{via})")
            else:
                out[ref] = Source("file", child.describe())
    return out


# -- inputs --------------------------------------------------------------------------------------


def _flags(options: ConfigOptions, flags: Mapping[str, Any]) -> dict[str, Flag]:
    given: dict[str, Flag] = {}
    for item in options.overrides:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(
                f"--set {item.split('=')[0]!r}: expected KEY=VALUE, e.g. --set docker.memory=4g"
            )
        _known(key, "--set")
        given[key] = Flag(text, f"--set {key}")
    for key, value in flags.items():
        _known(key, "flag")
        if value is not None:
            given[key] = value if isinstance(value, Flag) else Flag(value, "flag")
    return given


def _known(key: str, where: str) -> None:
    if key not in BY_KEY:
        hint = difflib.get_close_matches(key, list(BY_KEY), n=1)
        more = f" (did you mean {hint[0]}?)" if hint else " (see `nosana-node config show`)"
        raise ConfigError(f"{where}: unknown configuration key {key!r}{more}")


def _profile(options: ConfigOptions, env: Mapping[str, str]) -> tuple[str | None, Source]:
    if options.profile:
        profile, source = options.profile, Source("flag", "--profile")
    elif env.get(PROFILE_ENV):
        profile, source = env[PROFILE_ENV], Source("env", PROFILE_ENV)
    else:
        return None, Source("default", "(#profile takes :default)")
    profile = profile.strip().lstrip(":")
    if not _PROFILE_NAME.match(profile):
        raise ConfigError(f"profile {profile!r} ({source}): use letters, digits, '-', '_' or '.'")
    return profile, source


def _config_path(
    options: ConfigOptions, given: dict[str, Flag], env: Mapping[str, str]
) -> tuple[Path | None, Source]:
    if options.config is not None:
        path, source = expand(options.config).absolute(), Source("flag", "--config")
    elif env.get(CONFIG_ENV):
        path, source = expand(env[CONFIG_ENV]).absolute(), Source("env", CONFIG_ENV)
    else:
        home = given["home"].value if "home" in given else env.get(BY_KEY["home"].env or "") or DEFAULT_HOME
        candidate = expand(str(home)) / "config.edn"
        if candidate.is_file():
            return candidate, Source("default", "(<home>/config.edn)")
        return None, Source("default", f"(none: {candidate} does not exist)")
    if not path.is_file():
        raise ConfigError(f"configuration file {path} ({source}) does not exist")
    return path, source


def _check_keys(root: Traced, path: Path) -> dict[str, Traced]:
    """The file's map, with every key checked against the schema (a typo is an error)."""
    top_names = {s.edn_name for s in SETTINGS if s.section is None}
    tree: dict[str, Traced] = root.value
    for name, node in tree.items():
        if name in SECTIONS:
            if node.value is None:
                continue
            if not isinstance(node.value, dict):
                raise ConfigError(f"{path}: {show_path([name])}: expected a map {{...}} of settings")
            names = {s.edn_name for s in SETTINGS if s.section == name}
            for sub in node.value:
                if sub not in names:
                    raise ConfigError(f"{path}: unknown key {show_path([name, sub])}{_suggest(sub, names)}")
        elif name not in top_names:
            raise ConfigError(
                f"{path}: unknown key {show_path([name])}{_suggest(name, top_names | set(SECTIONS))}"
            )
    return tree


def _suggest(name: str, names: set[str]) -> str:
    hint = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean :{hint[0]}?)" if hint else ""


def _file_node(s: Setting, tree: dict[str, Traced]) -> Traced | None:
    if s.section is None:
        return tree.get(s.edn_name)
    sec = tree.get(s.section)
    if sec is None or not isinstance(sec.value, dict):
        return None
    return sec.value.get(s.edn_name)


def _value(
    s: Setting,
    given: dict[str, Flag],
    env: Any,
    env_map: Mapping[str, str],
    tree: dict[str, Traced],
    path: Path | None,
) -> tuple[Any, Source, bool]:
    if s.key in given:
        flag = given[s.key]
        try:
            raw = flag.value
            value = s.kind.from_text(raw) if isinstance(raw, str) else s.kind.from_value(raw)
        except ValueError as exc:
            shown = "its value" if s.kind.secret else repr(flag.value)
            raise ConfigError(f"{flag.label}: cannot read {shown} as {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{flag.label}: {exc}") from None
        return value, Source("flag", flag.label), False
    if s.env and s.env in env_map:
        value = s.kind.from_env(env, s.env)
        if value is not None:
            return value, Source("env", s.env), False
    node = _file_node(s, tree)
    if node is not None and node.value is not None:
        where = show_path([s.section, s.edn_name] if s.section else [s.edn_name])
        raw = node.plain()
        try:
            value = s.kind.from_value(raw)
        except ValueError as exc:
            secret = node.secret or s.kind.secret
            shown = (
                "a secret value"
                if secret
                else repr(raw)
                if not isinstance(raw, dict | list)
                else "a " + type(raw).__name__
            )
            via = f" (via {', '.join(node.via)})" if node.via else ""
            raise ConfigError(f"{path}: {where}: cannot read {shown}{via} as {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{path}: {where}: {exc}") from None
        return value, Source("file", node.describe()), node.secret
    if node is not None:  # present but nil (an unset #env, a #profile without entry)
        via = f" via {', '.join(node.via)}" if node.via else ""
        return s.default, Source("default", f"({node.file} gave nil{via})"), False
    return s.default, Source("default"), False


def _derive(values: dict[str, Any], sources: dict[str, Source]) -> None:
    """Defaults that depend on other settings."""
    if values["home"] is None:
        values["home"] = expand(DEFAULT_HOME)
        sources["home"] = Source("default", f"({DEFAULT_HOME})")
    if values["docker.url"] is None and os.environ.get("DOCKER_HOST"):
        values["docker.url"] = os.environ["DOCKER_HOST"]
        sources["docker.url"] = Source("env", "DOCKER_HOST (used when docker.url is not set)")
    if values["network"] == "localnet":
        _derive_localnet(values, sources)
    if values["rpc-url"] is None:
        from nosana_node.chain.addresses import RPC_URLS

        values["rpc-url"] = RPC_URLS[values["network"]]
        sources["rpc-url"] = Source("default", f"(for network {values['network']})")


def _derive_localnet(values: dict[str, Any], sources: dict[str, Source]) -> None:
    """On localnet the endpoints default to the local market serving ``<home>/localnet`` (its
    ``endpoint.json``), else to ``:ports``."""
    from nosana_node.chain.endpoint import served_urls

    ledger = Path(values["home"]).expanduser() / "localnet"
    served = served_urls(ledger)
    where = f"(the local market serving {ledger})" if served else "(the local market's :ports)"
    if values["rpc-url"] is None:
        values["rpc-url"] = served.get("rpc_url") or f"http://127.0.0.1:{values['ports.rpc']}"
        sources["rpc-url"] = Source("default", where)
    if values["ws-url"] is None:
        values["ws-url"] = served.get("ws_url") or f"ws://127.0.0.1:{values['ports.ws']}"
        sources["ws-url"] = Source("default", where)


def _validate(config: NodeConfig, profile: str | None, sources: dict[str, Source]) -> None:
    """Checks across settings; each error names the key and where its value came from."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{key} ({sources[key]}): {message}")

    if not re.match(r"^https?://", config.rpc_url or ""):
        raise fail("rpc-url", f"{config.rpc_url!r} is not an http(s):// URL")
    if config.ws_url is not None and not re.match(r"^wss?://", config.ws_url):
        raise fail("ws-url", f"{config.ws_url!r} is not a ws(s):// URL")
    if (
        config.market is not None
        and not _BASE58_ADDRESS.match(config.market)
        and config.market not in config.markets
        and config.network != "localnet"  # the local market names its own markets
    ):
        raise fail("market", f"{config.market!r} is neither a Solana address (base58) nor a name of :markets")
    if config.docker.url is not None and not re.match(
        r"^(unix|tcp|http|https|ssh|npipe)://", config.docker.url
    ):
        raise fail("docker.url", f"{config.docker.url!r}: use unix://, tcp://, http(s):// or ssh://")
    v = config.vault
    if v.skip_verify and profile != "dev":
        raise fail(
            "vault.skip-verify",
            "skipping TLS verification is for development only: set it under #profile {:dev true} "
            "and run with --profile dev, or give :ca-cert instead",
        )
    if v.client_key is not None and v.client_cert is None:
        raise fail("vault.client-key", "a client key needs :client-cert too")
    if v.backend != "openbao":
        return
    if not v.address:
        raise fail("vault.address", "the openbao backend needs the vault address (e.g. https://vault:8200)")
    if not re.match(r"^https?://", v.address):
        raise fail("vault.address", f"{v.address!r} is not an http(s):// URL")
    if v.auth == "token" and not v.token:
        raise fail("vault.token", "vault auth token needs a token (e.g. :token #env VAULT_TOKEN)")
    if v.auth == "approle" and not (v.role_id and v.secret_id):
        key = "vault.role-id" if not v.role_id else "vault.secret-id"
        raise fail(key, "vault auth approle needs :role-id and :secret-id")
