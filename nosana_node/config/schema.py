"""The node's configuration: every setting the node reads, typed, with its default and meaning.

The configuration is a map of top-level settings and sections (``:docker {...}``). Each setting
has a dotted key (``docker.memory``), an environment variable (``NOSANA_DOCKER_MEMORY``), a
kind (how it is read and shown) and a default. ``config.edn.example`` documents them all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nosana_node.config.kinds import (
    AddressMap,
    Boolean,
    Choice,
    Duration,
    Gpus,
    Integer,
    Keypair,
    Kind,
    Listen,
    ListenAddress,
    Number,
    PathKind,
    SecretMap,
    SecretText,
    Size,
    Text,
    TextList,
    TextMap,
)
from nosana_node.secrets.value import Secret
from nosana_node.units import GIB, MIB

ENV_PREFIX = "NOSANA_"
PULL_POLICIES = ("always", "if-not-present", "never")


def meta(kind: Kind, doc: str, *, env: bool = True, default_text: str | None = None) -> dict[str, Any]:
    """The metadata of a dataclass field declaring one setting; ``default_text`` describes a
    default that is derived rather than fixed (``$DOCKER_HOST or the local socket``)."""
    return {"kind": kind, "doc": doc, "env": env, "default_text": default_text}


def section(cls: type, doc: str) -> dict[str, Any]:
    """The metadata of a dataclass field holding a section (a nested map of settings)."""
    return {"section": cls, "doc": doc}


@dataclass(frozen=True)
class LogConfig:
    format: str = field(
        default="text",
        metadata=meta(Choice(("text", "json")), "Log line format: text, or json (one object a line)."),
    )
    level: str = field(
        default="info",
        metadata=meta(
            Choice(("debug", "info", "warning", "error"), {"warn": "warning"}), "Lowest level logged."
        ),
    )


@dataclass(frozen=True)
class PortsConfig:
    rpc: int = field(
        default=8899, metadata=meta(Integer(1, 65535), "JSON-RPC port of the local market (localnet).")
    )
    ws: int = field(
        default=8900, metadata=meta(Integer(1, 65535), "PubSub websocket port of the local market.")
    )


#: Public IPFS gateways read by default (Nosana's own first).
DEFAULT_GATEWAYS = ("https://nosana.mypinata.cloud", "https://ipfs.io", "https://dweb.link")


@dataclass(frozen=True)
class StorageConfig:
    max_artifact_size: int = field(
        default=4 * GIB,
        metadata=meta(Size(), "Largest artifact (a tar taken from a container); a larger one fails the job."),
    )
    backend: str = field(
        default="auto",
        metadata=meta(
            Choice(("auto", "embedded", "localnet", "kubo", "pinata", "gateway"), {"ipfs": "kubo"}),
            "Where job documents and results are kept by CID: embedded (blocks under <home>/storage), "
            "localnet (the local market's IPFS endpoint at :rpc-url), kubo (an IPFS node's RPC API), "
            "pinata (Pinata's pinning API; reads through :gateways), gateway (read only). "
            "auto: localnet on the localnet network, else embedded.",
        ),
    )
    max_size: int = field(
        default=GIB,
        metadata=meta(Size(), "Largest content one put or get moves (documents, results); more is refused."),
    )
    gateways: tuple[str, ...] = field(
        default=DEFAULT_GATEWAYS,
        metadata=meta(
            TextList(),
            "IPFS HTTP gateways tried in order to read content (gateway and pinata backends); "
            "content that does not hash to its CID is refused.",
        ),
    )
    kubo_url: str = field(
        default="http://127.0.0.1:5001",
        metadata=meta(
            Text(), "RPC API of the IPFS node (kubo, or any node speaking /api/v0) for backend kubo."
        ),
    )
    pinata_url: str = field(
        default="https://api.pinata.cloud",
        metadata=meta(Text(), "Pinata's API (backend pinata)."),
    )
    pinata_jwt: str | None = field(
        default=None,
        metadata=meta(
            Text(),
            "Vault reference (path#key) of the Pinata JWT, read from the :vault backend when the "
            "pinata backend opens; the JWT is masked everywhere.",
        ),
    )
    timeout: float = field(
        default=30.0,
        metadata=meta(
            Duration(), "How long a storage backend may stay silent on one request before a retry."
        ),
    )
    retries: int = field(
        default=3,
        metadata=meta(
            Integer(0, 10),
            "Retries of a failed storage request (down, timed out, 5xx), with jittered backoff.",
        ),
    )


@dataclass(frozen=True)
class DockerConfig:
    url: str | None = field(
        default=None,
        metadata=meta(
            Text(),
            "Docker engine API: unix:///var/run/docker.sock, tcp://host:2376.",
            default_text="$DOCKER_HOST or the local socket",
        ),
    )
    api_timeout: float = field(
        default=120.0,
        metadata=meta(Duration(), "How long one engine API call may take (not the job)."),
    )
    pull_policy: str = field(
        default="if-not-present",
        metadata=meta(Choice(PULL_POLICIES), "When to pull a job's image: always, if-not-present, never."),
    )
    cpus: float = field(default=2.0, metadata=meta(Number(0.01), "CPUs each job container may use."))
    memory: int = field(
        default=4 * GIB,
        metadata=meta(Size(), "Memory limit of each job container (swap limited the same)."),
    )
    pids: int = field(default=4096, metadata=meta(Integer(16), "Process limit of each job container."))
    timeout: float = field(
        default=3600.0,
        metadata=meta(Duration(), "Longest a job may run before its container is killed."),
    )
    max_log_size: int = field(
        default=16 * MIB,
        metadata=meta(Size(), "Log kept per job (stdout and stderr); the rest is cut with a marker."),
    )
    gpus: int | None = field(
        default=None, metadata=meta(Gpus(), "GPUs for job containers: none, all, or a count.")
    )
    network: str = field(
        default="isolated",
        metadata=meta(
            Text(),
            "Network of job containers: isolated (the node's own: no access to the host's "
            "services), bridge (Docker's default: the host's services are reachable), none, or "
            "the name of an existing Docker network. host is refused.",
        ),
    )


@dataclass(frozen=True)
class JobdefConfig:
    publish_address: str = field(
        default="127.0.0.1",
        metadata=meta(Text(), "Host address exposed ports of job definitions are published on."),
    )
    health_interval: float = field(
        default=5.0, metadata=meta(Duration(), "Pause between start-up health checks of an exposed port.")
    )
    continuous_interval: float = field(
        default=30.0, metadata=meta(Duration(), "Pause between continuous health checks once ready.")
    )
    health_timeout: float = field(
        default=1800.0,
        metadata=meta(Duration(), "How long an exposed port may take to pass its health checks."),
    )
    s3_endpoint: str | None = field(
        default=None, metadata=meta(Text(), "S3 service of s3:// resource URLs.", default_text="AWS")
    )
    hf_endpoint: str = field(
        default="https://huggingface.co", metadata=meta(Text(), "Hugging Face hub of HF resources.")
    )
    ollama_registry: str = field(
        default="https://registry.ollama.ai",
        metadata=meta(Text(), "Where the default Ollama registry (registry.ollama.ai) is reached."),
    )
    mirrors: dict[str, str] = field(
        default_factory=dict,
        metadata=meta(TextMap(), 'Resource URL prefixes rewritten: {"https://models.nosana.io" "s3://m"}.'),
    )
    s3_credentials: dict[str, str] = field(
        default_factory=dict,
        metadata=meta(
            TextMap(),
            'Vault paths of S3 keys by bucket or host: {"models" "s3/models"} (ACCESS_KEY_ID, '
            "SECRET_ACCESS_KEY, REGION).",
        ),
    )
    max_resource_size: int = field(
        default=512 * GIB, metadata=meta(Size(), "Largest resource a job may fetch.")
    )
    allow_private: tuple[str, ...] = field(
        default=(),
        metadata=meta(
            TextList(),
            "Private endpoints a market job's resources may reach (host names, networks): "
            '["minio.lan" "10.1.0.0/16"]. Others must resolve to public addresses only.',
        ),
    )


@dataclass(frozen=True)
class ChainConfig:
    priority_fee_cap: int = field(
        default=100_000,
        metadata=meta(
            Integer(0), "Highest priority fee paid, micro-lamports per compute unit (0: never pay one)."
        ),
    )
    retry_for: float = field(
        default=300.0,
        metadata=meta(
            Duration(), "How long failing RPC requests are retried (backoff 1s to 30s) before giving up."
        ),
    )
    commitment: str = field(
        default="confirmed",
        metadata=meta(
            Choice(("processed", "confirmed", "finalized")), "Commitment of reads and confirmations."
        ),
    )
    slow_poll: float = field(
        default=30.0,
        metadata=meta(Duration(), "Poll interval of chain watches while the PubSub socket is down."),
    )


#: Where the node's API listens unless told otherwise: loopback only.
DEFAULT_API = ListenAddress("127.0.0.1", 8989)


@dataclass(frozen=True)
class NodeSettings:
    drain_timeout: float = field(
        default=600.0,
        metadata=meta(
            Duration(),
            "On SIGTERM/SIGINT, how long a running job may go on before it is interrupted and its run "
            "quit (a second signal skips the wait).",
        ),
    )
    min_sol: float = field(
        default=0.01,
        metadata=meta(Number(0), "Least SOL the node wallet must hold to start (transaction fees, rent)."),
    )
    min_free_disk: int = field(
        default=GIB,
        metadata=meta(Size(), "Least free disk space under :home to start (flows, logs, artifacts)."),
    )
    recheck: float = field(
        default=300.0,
        metadata=meta(
            Duration(),
            "How often a waiting node reads its market to confirm it is still queued (1 request; "
            "assignments arrive by subscription).",
        ),
    )
    max_repository_size: int = field(
        default=2 * GIB,
        metadata=meta(
            Size(),
            "Most a checkout of a job's repository may write (git objects and work tree), measured "
            "while git runs: past it git is stopped, the partial checkout removed, the job fails.",
        ),
    )
    result_log_size: int = field(
        default=MIB,
        metadata=meta(Size(), "Log kept per job in a published result (the end is kept; the rest is cut)."),
    )
    publish_artifacts: int = field(
        default=64 * MIB,
        metadata=meta(
            Size(),
            "Artifacts up to this size are stored with the result (by CID, for `job result --download`); "
            "0: none.",
        ),
    )
    vault_secrets: bool = field(
        default=False,
        metadata=meta(
            Boolean(),
            "Let jobs from the market read this node's vault (nos/vault values). Off: only secrets of "
            "the Nosana secrets manager (:vault :nosana-endpoint) reach market jobs.",
        ),
    )
    api: ListenAddress = field(
        default=DEFAULT_API,
        metadata=meta(
            Listen(DEFAULT_API),
            "Where `node start` serves its HTTP API and status page: {:address :port} (0.0.0.0 to "
            "serve other hosts), or false. Job logs need the operator token or the poster's signature.",
        ),
    )


@dataclass(frozen=True)
class VaultConfig:
    backend: str = field(
        default="config",
        metadata=meta(
            Choice(("config", "openbao"), {"vault": "openbao", "hashicorp": "openbao"}),
            "Where secrets come from: config (the :secrets map, read-only) or openbao "
            "(HashiCorp Vault or OpenBao; vault is an alias).",
        ),
    )
    address: str | None = field(
        default=None, metadata=meta(Text(), "Vault URL, e.g. https://vault.example.com:8200.")
    )
    namespace: str | None = field(
        default=None, metadata=meta(Text(), "Vault namespace (Enterprise, OpenBao).")
    )
    auth: str = field(
        default="token",
        metadata=meta(Choice(("token", "approle")), "token, or approle (role-id + secret-id)."),
    )
    token: Secret | None = field(
        default=None,
        repr=False,
        metadata=meta(SecretText(), "Vault token (auth token): #env or #file, never literal."),
    )
    role_id: str | None = field(default=None, metadata=meta(Text(), "AppRole role id (auth approle)."))
    secret_id: Secret | None = field(
        default=None,
        repr=False,
        metadata=meta(SecretText(), "AppRole secret id (auth approle): #env or #file."),
    )
    approle_mount: str = field(
        default="approle", metadata=meta(Text(), "Mount path of the AppRole auth method.")
    )
    mount: str = field(default="secret", metadata=meta(Text(), "Mount path of the KV secrets engine."))
    kv_version: int = field(default=2, metadata=meta(Integer(1, 2), "KV engine version: 2 (versioned) or 1."))
    path_prefix: str = field(
        default="", metadata=meta(Text(), "Prefix added to every secret path, e.g. nosana/ci.")
    )
    ca_cert: Path | None = field(
        default=None, metadata=meta(PathKind(), "CA bundle that signs the server certificate.")
    )
    client_cert: Path | None = field(
        default=None, metadata=meta(PathKind(), "Client certificate (PEM), mutual TLS.")
    )
    client_key: Path | None = field(
        default=None, metadata=meta(PathKind(), "Client certificate key (PEM, mode 600).")
    )
    skip_verify: bool = field(
        default=False,
        metadata=meta(
            Boolean(), "Skip TLS verification: development only, refused unless the profile is dev."
        ),
    )
    timeout: float = field(default=10.0, metadata=meta(Duration(), "Timeout of each request to the vault."))
    cache_ttl: float = field(
        default=0.0, metadata=meta(Duration(), "Keep resolved secrets in memory this long; 0: never cache.")
    )
    renew: bool = field(
        default=True, metadata=meta(Boolean(), "Renew the token before it expires (approle: log in again).")
    )
    nosana_endpoint: str | None = field(
        default=None,
        metadata=meta(
            Text(),
            "Nosana secrets manager the node logs in to (with its keypair) for pipelines' nosana/secret"
            " values naming it; other nosana/secret values are read from this vault by name.",
        ),
    )


@dataclass(frozen=True)
class NodeConfig:
    """The node's effective configuration."""

    home: Path = field(
        default=None,
        metadata=meta(PathKind(), "State directory: flows, logs, artifacts.", default_text="~/.nosana-node"),
    )
    network: str = field(
        default="devnet",
        metadata=meta(
            Choice(("mainnet", "devnet", "localnet"), {"mainnet-beta": "mainnet"}),
            "Solana network of the market.",
        ),
    )
    rpc_url: str | None = field(
        default=None,
        metadata=meta(Text(), "Solana JSON-RPC URL.", default_text="the network's public endpoint"),
    )
    keypair: Secret | None = field(
        default=None,
        repr=False,
        metadata=meta(Keypair(), 'Node keypair: #file "~/.config/solana/id.json" (mode 600), or that path.'),
    )
    ws_url: str | None = field(
        default=None,
        metadata=meta(
            Text(), "Solana PubSub URL. Default: from :rpc-url (ws://, wss://; port + 1 if one is given)."
        ),
    )
    market: str | None = field(
        default=None, metadata=meta(Text(), "The market the node joins: an address, or a name of :markets.")
    )
    markets: dict[str, str] = field(
        default_factory=dict,
        metadata=meta(AddressMap(), 'Market names for --market: {"gpu" "7AtiX..."} (localnet adds its own).'),
    )
    log: LogConfig = field(default_factory=LogConfig, metadata=section(LogConfig, "Logging."))
    ports: PortsConfig = field(
        default_factory=PortsConfig, metadata=section(PortsConfig, "Ports the node serves.")
    )
    jobdef: JobdefConfig = field(
        default_factory=JobdefConfig,
        metadata=section(JobdefConfig, "Job definitions: exposed ports, health checks, resources."),
    )
    storage: StorageConfig = field(
        default_factory=StorageConfig,
        metadata=section(StorageConfig, "Artifacts, and content-addressed storage (IPFS CIDs)."),
    )
    chain: ChainConfig = field(
        default_factory=ChainConfig,
        metadata=section(ChainConfig, "Talking to the chain: fees, retries, confirmations."),
    )
    docker: DockerConfig = field(
        default_factory=DockerConfig,
        metadata=section(DockerConfig, "The Docker engine and job container limits."),
    )
    vault: VaultConfig = field(
        default_factory=VaultConfig, metadata=section(VaultConfig, "The secret backend.")
    )
    node: NodeSettings = field(
        default_factory=NodeSettings,
        metadata=section(NodeSettings, "The node loop: start-up checks, shutdown, results."),
    )
    secrets: dict[str, Any] = field(
        default_factory=dict,
        repr=False,
        metadata=meta(
            SecretMap(),
            'Config-backend secrets: {"path" value} or {"path" {:key value}}, from #env/#file.',
            env=False,
        ),
    )


@dataclass(frozen=True)
class Setting:
    """One setting of the schema."""

    key: str  # docker.max-log-size
    section: str | None  # docker
    attr: str  # max_log_size
    kind: Kind
    default: Any
    doc: str
    env: str | None  # NOSANA_DOCKER_MAX_LOG_SIZE
    derived_default: str | None = None  # a default computed from elsewhere, in words

    @property
    def edn_name(self) -> str:
        return self.attr.replace("_", "-")

    @property
    def default_text(self) -> str:
        """The default as people read it (``4 GiB``, ``1h``, ``$DOCKER_HOST or the local socket``)."""
        return self.derived_default or self.kind.show(self.default)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _settings() -> list[Setting]:
    out: list[Setting] = []
    for f in dataclasses.fields(NodeConfig):
        if "section" in f.metadata:
            sec = f.name
            for sf in dataclasses.fields(f.metadata["section"]):
                key = f"{sec}.{sf.name.replace('_', '-')}"
                out.append(_setting(key, sec, sf))
        else:
            out.append(_setting(f.name.replace("_", "-"), None, f))
    return out


def _setting(key: str, sec: str | None, f: dataclasses.Field[Any]) -> Setting:
    env = (
        ENV_PREFIX + key.upper().replace(".", "_").replace("-", "_") if f.metadata.get("env", True) else None
    )
    m = f.metadata
    return Setting(key, sec, f.name, m["kind"], _default(f), m["doc"], env, m.get("default_text"))


SETTINGS: list[Setting] = _settings()
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
SECTIONS: dict[str, str] = {
    f.name: f.metadata["doc"] for f in dataclasses.fields(NodeConfig) if "section" in f.metadata
}


def build(values: dict[str, Any]) -> NodeConfig:
    """A NodeConfig from a complete ``{key: typed value}`` map."""
    top: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for s in SETTINGS:
        (parts[s.section] if s.section else top)[s.attr] = values[s.key]
    sections = {
        f.name: f.metadata["section"] for f in dataclasses.fields(NodeConfig) if "section" in f.metadata
    }
    for name, cls in sections.items():
        top[name] = cls(**parts[name])
    return NodeConfig(**top)


def get(config: NodeConfig, key: str) -> Any:
    """The value of a dotted key, e.g. ``get(cfg, "docker.memory")``."""
    s = BY_KEY[key]
    holder = getattr(config, s.section) if s.section else config
    return getattr(holder, s.attr)
