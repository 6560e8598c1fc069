"""``nosana/secret`` references: the original node's secrets, read from the vault or an endpoint.

A pipeline may name ``{type: nosana/secret, endpoint: URL, value: NAME}``. The original node
fetched ``NAME`` from the Nosana secrets manager at ``URL``: ``POST URL/login`` with the node's
address, a timestamp and its ed25519 signature of ``nosana_secret_<timestamp>`` (base58),
answered by ``{"token": JWT}``; then ``GET URL/secrets`` with ``Authorization: JWT``, answered by
a JSON map of names to values.

Here such a reference is resolved by :class:`NosanaSecrets`:

- from the endpoint, only when the operator named that endpoint (``:vault :nosana-endpoint``)
  and gave the node a keypair: a pipeline never makes the node sign a login for a server its
  operator did not choose (a signed login could be replayed to the real manager);
- otherwise from the node's vault, under ``NAME``;
- and when neither has it, the job fails before its container exists, with a message saying
  where the secret was looked for and how to provide it.

Every other reference goes to the vault unchanged.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nosana_node.errors import SecretError
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretRef, SecretResolver

if TYPE_CHECKING:
    from solders.keypair import Keypair

MAX_RESPONSE = 1024 * 1024
HINT = (
    "a nosana/secret is read from the node's vault under its name (e.g. `nosana-node vault put {name}"
    " value=-`, or :secrets in config.edn), or from its endpoint when the operator names that endpoint"
    " in :vault :nosana-endpoint"
)


def same_endpoint(a: str, b: str) -> bool:
    """True when two endpoint URLs name the same server and path (case, default port, ``/``)."""

    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")

    try:
        return key(a) == key(b)
    except ValueError:
        return False


class SecretsEndpoint:
    """A client of one Nosana secrets manager, logging in with the node's keypair."""

    def __init__(self, url: str, keypair: Keypair, timeout: float = 10.0, job: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.keypair = keypair
        self.timeout = timeout
        self.job = job

    def login_payload(self, now: float | None = None) -> dict[str, Any]:
        """The signed login body: address, base58 signature of ``nosana_secret_<ts>``, ts (, job)."""
        timestamp = int(time.time() if now is None else now)
        signature = self.keypair.sign_message(f"nosana_secret_{timestamp}".encode())
        payload: dict[str, Any] = {
            "address": str(self.keypair.pubkey()),
            "signature": str(signature),
            "timestamp": timestamp,
        }
        if self.job:
            payload["job"] = self.job
        return payload

    def secrets(self) -> dict[str, Any]:
        """Every secret the endpoint gives this node (its own, or the job's)."""
        import httpx

        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                token = self._json(client.post(f"{self.url}/login", json=self.login_payload())).get("token")
                if not isinstance(token, str) or not token:
                    raise SecretError(f"the secrets endpoint {self.url} gave no login token")
                answer = self._json(client.get(f"{self.url}/secrets", headers={"Authorization": token}))
        except httpx.HTTPError as exc:
            raise SecretError(
                f"the secrets endpoint {self.url} cannot be reached: {type(exc).__name__}"
            ) from None
        return answer

    def _json(self, response: Any) -> dict[str, Any]:
        if response.status_code >= 400:
            raise SecretError(f"the secrets endpoint {self.url} answered HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE:
            raise SecretError(f"the secrets endpoint {self.url} answered more than {MAX_RESPONSE} bytes")
        try:
            data = json.loads(response.content)
        except ValueError:
            raise SecretError(f"the secrets endpoint {self.url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise SecretError(f"the secrets endpoint {self.url} did not answer a JSON object")
        return data


class NosanaSecrets:
    """A :class:`SecretResolver`: ``nosana/secret`` references as described above, the rest to
    ``vault``."""

    def __init__(self, vault: SecretResolver, endpoint: SecretsEndpoint | None = None) -> None:
        self.vault = vault
        self.endpoint = endpoint

    def resolve(self, ref: SecretRef) -> str:
        """The value of ``ref``; :class:`SecretError` naming the reference when there is none."""
        if ref.endpoint is None:
            return self.vault.resolve(ref)
        if self.endpoint is not None and ref.endpoint and same_endpoint(ref.endpoint, self.endpoint.url):
            secrets = self.endpoint.secrets()
            if ref.path not in secrets or secrets[ref.path] is None:
                raise SecretError(f"secret {ref}: not found at the secrets endpoint {self.endpoint.url}")
            value = secrets[ref.path]
            text = value if isinstance(value, str) else json.dumps(value)
            process_masker().add(text)
            return text
        try:
            return self.vault.resolve(SecretRef(path=ref.path))
        except SecretError as exc:
            raise SecretError(
                f"secret {ref}: {exc.message.split(': ', 1)[-1]}; {HINT.format(name=ref.path)}"
            ) from None

    def close(self) -> None:
        """Close the vault's connections."""
        close = getattr(self.vault, "close", None)
        if close is not None:
            close()
