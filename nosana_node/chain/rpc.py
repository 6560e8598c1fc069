"""A small JSON-RPC client for the local market's own commands (airdrop, market open).

It speaks plain Solana JSON-RPC, so it works against any endpoint; errors become one-line
:class:`~nosana_node.errors.ChainError` messages that name the URL.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from typing import Any

import httpx
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.errors import ChainError


class RpcClient:
    """Synchronous JSON-RPC calls to one endpoint."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            response = self._http.post(self.url, json=request)
        except httpx.HTTPError as exc:
            raise ChainError(
                f"no Solana JSON-RPC endpoint answers at {self.url} ({exc.__class__.__name__}): "
                "start one with `nosana-node localnet start`, or pass --url"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise ChainError(f"{self.url} answered {response.status_code} without JSON") from None
        if "error" in body:
            error = body["error"]
            logs = (error.get("data") or {}).get("logs") or [] if isinstance(error.get("data"), dict) else []
            tail = f" (last log: {logs[-1]})" if logs else ""
            raise ChainError(f"{method} failed: {error.get('message')}{tail}")
        return body["result"]

    def send(self, instructions: Sequence[Instruction], signers: Sequence[Keypair]) -> str:
        """Sign (fee payer: the first signer), send with preflight; returns the signature."""
        blockhash = Hash.from_string(self.call("getLatestBlockhash")["value"]["blockhash"])
        tx = Transaction(list(signers), Message(list(instructions), signers[0].pubkey()), blockhash)
        return str(self.call("sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
