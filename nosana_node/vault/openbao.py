"""The HashiCorp Vault / OpenBao backend, through ``hvac``.

KV v2 (versioned) or v1, token or AppRole authentication, namespaces, TLS (CA bundle, client
certificate, skip-verify for development only). The token is renewed when less than half of its
TTL is left; an AppRole login that can no longer be renewed (max TTL) logs in again. Tokens are
held as :class:`~nosana_node.secrets.value.Secret` and registered with the process masker, so
they never reach a log or an error message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nosana_node.config.schema import VaultConfig
from nosana_node.secrets.value import Secret
from nosana_node.vault.base import Data, Failure, Vault, as_text

T = TypeVar("T")


class OpenBaoVault(Vault):
    """Secrets in a KV engine of HashiCorp Vault or OpenBao."""

    versioned = True

    def __init__(self, cfg: VaultConfig) -> None:
        super().__init__(cfg.cache_ttl)
        if cfg.address is None:
            raise ValueError("a vault address is required")
        self.cfg = cfg
        self.versioned = cfg.kv_version == 2
        self._client: Any = None
        self._token: Secret | None = None
        self._ttl = 0.0  # the token's TTL when obtained or last renewed (0: never expires)
        self._expires: float | None = None  # expiry on :attr:`clock` (None: never)
        self._renewable = False
        self._lock = threading.RLock()
        #: how many times the token was renewed / logged in (for operators and tests)
        self.renewals = 0
        self.logins = 0

    def describe(self) -> str:
        ns = f", namespace {self.cfg.namespace}" if self.cfg.namespace else ""
        return f"vault {self.cfg.address} (kv v{self.cfg.kv_version}{ns})"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.adapter.close()
                self._client = None

    def ping(self) -> str:
        """The server answers and still accepts the token (``lookup-self``)."""
        client = self._fresh_client()
        self._guard(lambda: client.auth.token.lookup_self())
        return f"{self.describe()}: token accepted"

    # -- connection and token ----------------------------------------------------------------------

    def _connect(self) -> Any:
        import hvac

        cfg = self.cfg
        verify: bool | str = str(cfg.ca_cert) if cfg.ca_cert is not None else not cfg.skip_verify
        cert: Any = None
        if cfg.client_cert is not None:
            cert = (str(cfg.client_cert), str(cfg.client_key)) if cfg.client_key else str(cfg.client_cert)
        # token="" keeps hvac from picking up VAULT_TOKEN or ~/.vault-token behind our back
        self._client = hvac.Client(
            url=cfg.address, token="", verify=verify, cert=cert, timeout=cfg.timeout, namespace=cfg.namespace
        )
        try:
            self._login()
        except BaseException:
            self._client.adapter.close()
            self._client = None
            raise
        return self._client

    def _login(self) -> None:
        cfg = self.cfg
        client = self._client
        if cfg.auth == "approle":
            assert cfg.role_id and cfg.secret_id
            secret_id = cfg.secret_id.reveal()
            auth = self._guard(
                lambda: client.auth.approle.login(
                    role_id=cfg.role_id, secret_id=secret_id, mount_point=cfg.approle_mount
                )["auth"],
                login=True,
            )
            self._token = Secret(auth["client_token"])
            client.token = self._token.reveal()
            self._set_ttl(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))
        else:
            assert cfg.token
            self._token = cfg.token
            client.token = cfg.token.reveal()
            try:
                data = self._guard(lambda: client.auth.token.lookup_self()["data"])
            except Failure as f:
                if not f.reason.startswith("permission denied"):
                    raise
                raise Failure(f"{cfg.address} refused the vault token (expired, revoked or wrong)") from None
            self._set_ttl(float(data.get("ttl") or 0), bool(data.get("renewable")))
        self.logins += 1

    def _set_ttl(self, ttl: float, renewable: bool) -> None:
        self._ttl = ttl
        self._expires = self.clock() + ttl if ttl > 0 else None
        self._renewable = renewable

    def _fresh_client(self) -> Any:
        """The client, logged in, its token renewed (or replaced) once half its TTL is gone."""
        with self._lock:
            if self._client is None:
                return self._connect()
            if not self.cfg.renew or self._expires is None:
                return self._client
            remaining = self._expires - self.clock()
            if remaining > self._ttl / 2:
                return self._client
            if self._renewable and self._renew():
                return self._client
            if self.cfg.auth == "approle":  # not renewable (any more): log in again
                self._login()
            # a token that cannot be renewed is used until the server refuses it
            return self._client

    def _renew(self) -> bool:
        """Renew the token; False when that failed or hardly extended it (at its max TTL)."""
        try:
            auth = self._guard(lambda: self._client.auth.token.renew_self()["auth"])
        except Failure:
            self._renewable = False
            return False
        ttl = float(auth.get("lease_duration") or 0)
        self.renewals += 1
        capped = 0 < ttl < self._ttl / 2
        self._set_ttl(ttl, bool(auth.get("renewable")) and not capped)
        return not capped

    # -- errors ----------------------------------------------------------------------------------

    def _guard(self, call: Callable[[], T], login: bool = False, where: str | None = None) -> T:
        """Run one request; turn every failure into a :class:`Failure` with a value-free reason
        (``where``: the mount and path asked for, named in "not found" and "denied")."""
        import hvac.exceptions as hx
        import requests

        try:
            return call()
        except hx.InvalidPath:
            raise Failure(f"not found at {where} in {self.describe()}" if where else "not found") from None
        except (hx.Forbidden, hx.Unauthorized) as exc:
            if login:
                raise Failure(
                    f"AppRole login to {self.cfg.address} refused (role-id or secret-id rejected)"
                ) from None
            if any("invalid token" in e for e in exc.errors or []):
                raise Failure(
                    f"{self.cfg.address} refused the vault token (expired, revoked or wrong)"
                ) from None
            what = f" to {where}" if where else ""
            raise Failure(
                f"permission denied{what} by {self.describe()} (the token's policy does not allow it)"
            ) from None
        except (hx.VaultDown, hx.VaultNotInitialized):
            raise Failure(f"vault {self.cfg.address} is sealed or not initialised") from None
        except requests.exceptions.SSLError as exc:
            raise Failure(f"TLS with {self.cfg.address} failed: {_ssl_reason(exc)}") from None
        except requests.exceptions.Timeout:
            raise Failure(f"vault {self.cfg.address} did not answer within {self.cfg.timeout:g}s") from None
        except requests.exceptions.ConnectionError:
            raise Failure(f"vault {self.cfg.address} is unreachable (connection refused or lost)") from None
        except hx.InvalidRequest as exc:
            if login:
                raise Failure(
                    f"AppRole login to {self.cfg.address} refused (role-id or secret-id rejected)"
                ) from None
            raise Failure(
                f"rejected by {self.describe()}: {'; '.join(exc.errors or []) or 'invalid request'}"
            ) from None
        except hx.VaultError as exc:
            raise Failure(f"{self.describe()} failed: {type(exc).__name__}") from None

    def _request(self, call: Callable[[Any], T], path: str) -> T:
        """One request about ``path`` (in the KV mount) with a fresh token; an AppRole token
        refused once is replaced and the request retried."""
        where = f"{self.cfg.mount}/{path}"
        client = self._fresh_client()
        try:
            return self._guard(lambda: call(client), where=where)
        except Failure as f:
            if self.cfg.auth != "approle" or "permission denied" not in f.reason:
                raise
        with self._lock:  # the token may have been revoked or expired early: log in again, once
            self._login()
            client = self._client
        return self._guard(lambda: call(client), where=where)

    # -- KV operations ---------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        prefix = self.cfg.path_prefix.strip("/")
        return f"{prefix}/{path}" if prefix and path else prefix or path

    def _fetch(self, path: str, version: int | None) -> Data:
        full, mount = self._full(path), self.cfg.mount
        if self.cfg.kv_version == 2:
            resp = self._request(
                lambda c: c.secrets.kv.v2.read_secret_version(
                    path=full, version=version, mount_point=mount, raise_on_deleted_version=True
                ),
                full,
            )
            data = resp["data"]["data"]
        else:
            data = self._request(lambda c: c.secrets.kv.v1.read_secret(path=full, mount_point=mount), full)[
                "data"
            ]
        if data is None:  # a destroyed version
            raise Failure(f"not found at {mount}/{full} in {self.describe()} (version destroyed)")
        return {str(k): as_text(v) for k, v in data.items()}

    def _store(self, path: str, data: dict[str, str]) -> int | None:
        full, mount = self._full(path), self.cfg.mount
        if self.cfg.kv_version == 2:
            resp = self._request(
                lambda c: c.secrets.kv.v2.create_or_update_secret(path=full, secret=data, mount_point=mount),
                full,
            )
            return int(resp["data"]["version"])
        self._request(
            lambda c: c.secrets.kv.v1.create_or_update_secret(path=full, secret=data, mount_point=mount),
            full,
        )
        return None

    def _list(self, prefix: str) -> list[str]:
        full, mount = self._full(prefix), self.cfg.mount
        kv = "v2" if self.cfg.kv_version == 2 else "v1"
        try:
            resp = self._request(
                lambda c: getattr(c.secrets.kv, kv).list_secrets(path=full, mount_point=mount), full
            )
        except Failure as f:
            if f.reason.startswith("not found"):
                return []
            raise
        return list(resp["data"]["keys"])

    def _remove(self, path: str, all_versions: bool) -> None:
        full, mount = self._full(path), self.cfg.mount
        # a delete of a missing path succeeds in Vault: check first, so `rm` of a typo says so
        if self.cfg.kv_version == 2 and all_versions:  # a soft-deleted secret can still be purged
            self._request(lambda c: c.secrets.kv.v2.read_secret_metadata(path=full, mount_point=mount), full)
        else:
            self._fetch(path, None)
        if self.cfg.kv_version == 1:
            self._request(lambda c: c.secrets.kv.v1.delete_secret(path=full, mount_point=mount), full)
        elif all_versions:
            self._request(
                lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path=full, mount_point=mount), full
            )
        else:
            self._request(
                lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(path=full, mount_point=mount), full
            )


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    for needle in ("certificate verify failed", "wrong version number", "certificate required", "handshake"):
        if needle in text:
            return needle
    return "TLS error"
