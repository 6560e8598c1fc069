"""Solana JSON-RPC over HTTP: the connection of the chain client, for any endpoint.

:class:`RpcClient` sends one request at a time (thread-safe) and retries transient failures
(transport errors, timeouts, HTTP 429/5xx, "node behind" RPC errors) with the jittered backoff
of :mod:`.retry`. Every lower-level exception becomes a typed :class:`~.failures.ChainFailure`
in :mod:`.failures`; nothing from httpx escapes. Typed helpers return plain values (bytes,
ints, :class:`AccountData`); decoding the jobs program's accounts is the client's job.

    with RpcClient("http://127.0.0.1:8899", backoff=Backoff(budget=60)) as rpc:
        slot = rpc.call("getSlot")
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import based58
import httpx
from solders.hash import Hash
from solders.pubkey import Pubkey

from nosana_node.chain.failures import (
    ChainFailure,
    RpcUnavailable,
    from_http_status,
    from_rpc_error,
    from_transport,
)
from nosana_node.chain.retry import NO_RETRY, Backoff, Sleep, retry_call
from nosana_node.clock import SYSTEM_CLOCK, Clock

#: Told of every request: its method, and its failure (None: it succeeded).
Observer = Callable[[str, "ChainFailure | None"], None]

log = logging.getLogger("nosana_node.chain")
# httpx logs every request at INFO; the node's info log is about jobs, not requests
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURE_STATUSES = 256
#: Largest JSON-RPC answer read (getProgramAccounts of a busy program can be large).
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class AccountData:
    """An account as the RPC returns it."""

    lamports: int
    owner: Pubkey
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class Memcmp:
    """A ``getProgramAccounts`` / ``programSubscribe`` filter: ``data[offset:] startswith bytes``."""

    offset: int
    bytes: bytes

    def to_json(self) -> dict[str, Any]:
        return {"memcmp": {"offset": self.offset, "bytes": based58.b58encode(self.bytes).decode()}}


def parse_account(value: Any) -> AccountData | None:
    """An ``encoding: base64`` account object (None stays None)."""
    if value is None:
        return None
    data, encoding = value["data"]
    if encoding != "base64":
        raise ValueError(f"expected base64 account data, got {encoding}")
    return AccountData(
        int(value["lamports"]),
        Pubkey.from_string(value["owner"]),
        base64.b64decode(data),
        value["executable"],
    )


class RpcClient:
    """Synchronous JSON-RPC calls to one endpoint, with retries of transient failures."""

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        *,
        backoff: Backoff = NO_RETRY,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Sleep = time.sleep,
        commitment: str = "confirmed",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.backoff, self.clock, self.sleep, self.commitment = backoff, clock, sleep, commitment
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        #: requests sent so far (retries included): benchmarks count the idle load with it
        self.requests = 0
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> None:
        """Call ``observer(method, failure)`` after every request (``failure`` None when it
        succeeded); the node's metrics count requests and errors by method with it."""
        self._observers.append(observer)

    # -- raw calls --------------------------------------------------------------------------------
    def call(self, method: str, *params: Any) -> Any:
        """The ``result`` of ``method``; transient failures are retried within the backoff budget."""
        return retry_call(
            lambda: self.call_once(method, *params),
            self.backoff,
            clock=self.clock,
            sleep=self.sleep,
            on_retry=_log,
        )

    def call_once(self, method: str, *params: Any) -> Any:
        """One request, no retry."""
        if not self._observers:
            return self._call_once(method, *params)
        try:
            result = self._call_once(method, *params)
        except ChainFailure as failure:
            self._notify(method, failure)
            raise
        self._notify(method, None)
        return result

    def _notify(self, method: str, failure: ChainFailure | None) -> None:
        for observer in self._observers:
            try:
                observer(method, failure)
            except Exception:
                log.exception("an RPC observer failed")

    def _call_once(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        with self._lock:
            self.requests += 1
            try:
                status, body = self._post(request)
            except RpcUnavailable:
                raise
            except Exception as exc:  # the one place transport exceptions are mapped (failures.py)
                raise from_transport(exc, self.url) from None
        try:
            decoded = json.loads(body)
        except ValueError:
            raise from_http_status(status, self.url, method) from None
        if not isinstance(decoded, dict):
            raise from_http_status(status, self.url, method)
        if "error" in decoded:
            raise from_rpc_error(method, decoded["error"])
        if "result" not in decoded:
            raise from_http_status(status, self.url, method)
        return decoded["result"]

    def _post(self, request: dict[str, Any]) -> tuple[int, bytes]:
        """POST one request; the status and the body, read up to :data:`MAX_RESPONSE_BYTES`."""
        with self._http.stream("POST", self.url, json=request) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    failure = RpcUnavailable(
                        f"{request['method']}: the answer of {self.url} exceeds {MAX_RESPONSE_BYTES} bytes",
                        url=self.url,
                        reason="answer too large",
                    )
                    failure.transient = False  # asking again gets the same answer
                    raise failure
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    # -- typed helpers ----------------------------------------------------------------------------
    def account(self, address: Pubkey) -> AccountData | None:
        """The account at ``address``, or None."""
        value = self.call(
            "getAccountInfo", str(address), {"encoding": "base64", "commitment": self.commitment}
        )["value"]
        return parse_account(value)

    def accounts(self, addresses: Sequence[Pubkey]) -> list[AccountData | None]:
        """Several accounts in order (None for a missing one), 100 per request."""
        out: list[AccountData | None] = []
        for i in range(0, len(addresses), MAX_MULTIPLE_ACCOUNTS):
            chunk = [str(a) for a in addresses[i : i + MAX_MULTIPLE_ACCOUNTS]]
            value = self.call(
                "getMultipleAccounts", chunk, {"encoding": "base64", "commitment": self.commitment}
            )["value"]
            out.extend(parse_account(v) for v in value)
        return out

    def program_accounts(
        self, program: Pubkey, filters: Iterable[Memcmp]
    ) -> list[tuple[Pubkey, AccountData]]:
        """Accounts of ``program`` whose data match every filter."""
        config = {
            "encoding": "base64",
            "commitment": self.commitment,
            "filters": [f.to_json() for f in filters],
        }
        found = self.call("getProgramAccounts", str(program), config)
        if isinstance(found, dict):  # withContext answers
            found = found["value"]
        return [(Pubkey.from_string(item["pubkey"]), parse_account(item["account"])) for item in found]  # type: ignore[misc]

    def balance(self, address: Pubkey) -> int:
        """Lamports held by ``address`` (0 when it does not exist)."""
        return int(self.call("getBalance", str(address), {"commitment": self.commitment})["value"])

    def token_balance(self, address: Pubkey) -> int | None:
        """Base units held by a token account, None when it is not one (or missing)."""
        account = self.account(address)
        if account is None or len(account.data) < 72:
            return None
        return int.from_bytes(account.data[64:72], "little")

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The newest blockhash and the last block height at which it is valid."""
        value = self.call("getLatestBlockhash", {"commitment": self.commitment})["value"]
        return Hash.from_string(value["blockhash"]), int(value["lastValidBlockHeight"])

    def block_height(self) -> int:
        return int(self.call("getBlockHeight", {"commitment": self.commitment}))

    def signature_statuses(self, signatures: Sequence[str]) -> list[dict[str, Any] | None]:
        """``getSignatureStatuses`` values in order (None: not seen)."""
        out: list[dict[str, Any] | None] = []
        for i in range(0, len(signatures), MAX_SIGNATURE_STATUSES):
            chunk = list(signatures[i : i + MAX_SIGNATURE_STATUSES])
            out.extend(self.call("getSignatureStatuses", chunk, {"searchTransactionHistory": True})["value"])
        return out

    def prioritization_fees(self, writable: Sequence[Pubkey]) -> list[int]:
        """Recent per-slot priority fees (micro-lamports per compute unit) for these accounts."""
        found = self.call("getRecentPrioritizationFees", [str(a) for a in writable[:128]])
        return [int(item.get("prioritizationFee", 0)) for item in found if isinstance(item, dict)]

    def send_raw(self, tx: bytes, *, skip_preflight: bool = False) -> str:
        """``sendTransaction`` of signed bytes (no retry here: the sender decides)."""
        config = {
            "encoding": "base64",
            "skipPreflight": skip_preflight,
            "preflightCommitment": self.commitment,
            "maxRetries": 0,
        }
        return str(self.call_once("sendTransaction", base64.b64encode(tx).decode(), config))

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log(failure: ChainFailure, attempt: int, delay: float) -> None:
    log.warning("%s; retrying in %.1f s (attempt %d)", failure, delay, attempt + 1)
