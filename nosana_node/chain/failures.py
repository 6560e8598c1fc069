"""Typed failures of the chain client, and the one place lower-level exceptions become them.

Every failure is a :class:`~nosana_node.errors.ChainError` with a one-line message. Transport
and RPC failures say whether trying again may help (:attr:`ChainFailure.transient`); the retry
policy (:mod:`.retry`) reads nothing else. A failed transaction names the instruction and, for a
program error, its name and number (``NodeNotEnoughStake (6013)``), never a raw code alone.

    try:
        http.post(url, json=body)
    except Exception as exc:
        raise from_transport(exc, url) from None
"""

from __future__ import annotations

import ssl
from typing import Any

from nosana_node.errors import ChainError

#: JSON-RPC error codes a Solana RPC node answers when a retry may succeed: internal error,
#: block not available, node unhealthy / behind, slot skipped, min context slot not reached.
TRANSIENT_RPC_CODES = frozenset({-32603, -32004, -32005, -32007, -32009, -32014, -32016})
#: HTTP statuses that mean "busy or briefly down" (rate limits, gateways, maintenance).
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


class ChainFailure(ChainError):
    """A chain failure; ``transient`` failures may succeed when tried again."""

    transient: bool = False


class RpcUnavailable(ChainFailure):
    """The endpoint did not answer usably: refused, reset, timed out, busy, not JSON."""

    transient = True

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message)
        self.url, self.reason = url, reason


class RpcRequestError(ChainFailure):
    """The endpoint answered a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method} failed: {message} (RPC error {code})")
        self.method, self.code, self.rpc_message, self.data = method, code, message, data
        self.transient = code in TRANSIENT_RPC_CODES


class TransactionFailed(ChainFailure):
    """A transaction was refused by preflight or landed with an error.

    ``program_error`` is the jobs program's error name (``NodeNotEnoughStake``) when the failing
    instruction was one of its own; ``code`` its number; ``logs`` the program logs.
    """

    def __init__(
        self,
        action: str,
        reason: str,
        *,
        code: int | None = None,
        program_error: str | None = None,
        logs: list[str] | None = None,
        signature: str | None = None,
    ) -> None:
        super().__init__(f"{action} failed: {reason}")
        self.action, self.reason, self.code = action, reason, code
        self.program_error, self.logs, self.signature = program_error, logs or [], signature


class BlockhashExpired(ChainFailure):
    """The transaction's blockhash expired before it landed (the sender rebuilds it)."""


class ConfirmationTimeout(ChainFailure):
    """A sent transaction was neither seen landed nor proven expired in time."""

    transient = True


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    return f"{name}: {text}" if text and len(text) < 120 else name


def from_transport(exc: BaseException, url: str, *, what: str = "JSON-RPC endpoint") -> ChainFailure:
    """The failure for an exception raised while talking to ``url`` (httpx, websockets, OS)."""
    import httpx

    reason = _reason(exc)
    if isinstance(exc, ChainFailure):
        return exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        message = f"the Solana {what} at {url} did not answer in time ({reason})"
    elif isinstance(exc, ssl.SSLError):
        message = f"TLS with the Solana {what} at {url} failed ({reason})"
    else:
        message = f"no Solana {what} answers at {url} ({reason})"
    return RpcUnavailable(message, url=url, reason=reason)


def from_http_status(status: int, url: str, method: str) -> ChainFailure:
    """The failure for an HTTP answer without a JSON-RPC body."""
    failure = RpcUnavailable(
        f"{method}: the Solana JSON-RPC endpoint at {url} answered HTTP {status}",
        url=url,
        reason=f"HTTP {status}",
    )
    failure.transient = status in TRANSIENT_HTTP or status >= 500
    return failure


def from_rpc_error(method: str, error: Any) -> RpcRequestError:
    """The failure for a JSON-RPC ``error`` object."""
    if not isinstance(error, dict):
        return RpcRequestError(method, -32603, f"malformed error {str(error)[:80]!r}")
    code = error.get("code")
    message = " ".join(str(error.get("message") or "error").split())
    return RpcRequestError(method, code if isinstance(code, int) else -32603, message, error.get("data"))
