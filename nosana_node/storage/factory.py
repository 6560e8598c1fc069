"""From the configuration to a storage backend: :func:`open_storage`.

``:storage :backend`` names it; ``auto`` (the default) is the local market's endpoint on the
``localnet`` network (so a client and a node with separate homes exchange documents through it,
as they would through IPFS) and the embedded store elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from nosana_node.errors import ConfigError
from nosana_node.storage.base import Storage

if TYPE_CHECKING:
    from nosana_node.config.schema import NodeConfig
    from nosana_node.vault.base import Vault

BACKENDS = ("embedded", "localnet", "kubo", "pinata", "gateway")
_HTTP_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


def backend_name(config: NodeConfig, backend: str | None = None) -> str:
    """The backend ``open_storage`` would open (``auto`` resolved)."""
    name = backend or config.storage.backend
    if name == "auto":
        return "localnet" if config.network == "localnet" else "embedded"
    if name not in BACKENDS:
        raise ConfigError(f"storage.backend: unknown backend {name!r} (one of auto, {', '.join(BACKENDS)})")
    return name


def open_storage(
    config: NodeConfig,
    *,
    backend: str | None = None,
    vault: Vault | None = None,
    config_file: Path | None = None,
) -> Storage:
    """The storage backend of ``config`` (``backend`` overrides ``:storage :backend``).

    ``vault`` resolves ``:storage :pinata-jwt`` (default: the configured vault, opened from
    ``config_file``). Remote backends connect on first use.
    """
    s = config.storage
    name = backend_name(config, backend)
    if name == "embedded":
        from nosana_node.storage.embedded import EmbeddedStorage

        return EmbeddedStorage(Path(config.home) / "storage", max_size=s.max_size)
    from nosana_node.storage.http import HttpOptions

    options = HttpOptions(timeout=s.timeout, retries=s.retries)
    if name in ("localnet", "kubo"):
        from nosana_node.storage.kubo import KuboStorage

        if name == "localnet":
            url = _url(config.rpc_url or "", "rpc-url")
            return KuboStorage(url, options, max_size=s.max_size, label="local market IPFS endpoint")
        return KuboStorage(_url(s.kubo_url, "storage.kubo-url"), options, max_size=s.max_size)
    gateways = tuple(_url(g, "storage.gateways") for g in s.gateways)
    if name == "gateway":
        from nosana_node.storage.gateway import GatewayStorage

        if not gateways:
            raise ConfigError("storage.gateways: the gateway backend needs at least one gateway URL")
        return GatewayStorage(gateways, options, max_size=s.max_size)
    from nosana_node.storage.pinata import PinataStorage

    if not s.pinata_jwt:
        raise ConfigError(
            "storage.pinata-jwt: the pinata backend needs the vault reference (path#key) of a Pinata JWT"
        )
    if vault is None:
        from nosana_node.vault import open_vault

        vault = open_vault(config, config_file)
    from nosana_node.secrets.refs import SecretRef

    jwt = vault.resolve(SecretRef.parse(s.pinata_jwt))
    return PinataStorage(
        _url(s.pinata_url, "storage.pinata-url"), jwt, gateways, options, max_size=s.max_size
    )


def _url(text: str, key: str) -> str:
    if not _HTTP_URL.match(text.strip()):
        raise ConfigError(f"{key}: {text!r} is not an http(s):// URL")
    return text.strip().rstrip("/")
