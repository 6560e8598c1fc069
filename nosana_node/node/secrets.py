"""Which secrets a job from the market may have: by default none of the node's own vault.

A pipeline posted by a stranger may name any secret (``{type: nos/vault, value: path}``); read
from the operator's vault, a job could print it in a form the masker does not know. So on a
node, :class:`MarketSecrets` lets through only ``nosana/secret`` values of the Nosana secrets
manager the configuration names (``:vault :nosana-endpoint``: it decides which node and job see
what); the node's vault serves market jobs only when the operator allows it
(``:node :vault-secrets true``). A refused secret fails its op before the container is created,
and the result says why.
"""

from __future__ import annotations

from nosana_node.errors import SecretError
from nosana_node.secrets.endpoint import same_endpoint
from nosana_node.secrets.refs import SecretRef, SecretResolver


class MarketSecrets:
    """A :class:`SecretResolver` for market jobs in front of the node's resolver."""

    def __init__(self, inner: SecretResolver, *, nosana_endpoint: str | None, vault_secrets: bool) -> None:
        self.inner = inner
        self.nosana_endpoint = nosana_endpoint
        self.vault_secrets = vault_secrets

    def resolve(self, ref: SecretRef) -> str:
        if self.vault_secrets:
            return self.inner.resolve(ref)
        if ref.endpoint and self.nosana_endpoint and same_endpoint(ref.endpoint, self.nosana_endpoint):
            return self.inner.resolve(ref)
        raise SecretError(
            f"secret {ref}: jobs from the market do not read this node's vault "
            "(the operator allows it with :node :vault-secrets true)"
        )

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
