"""Sending transactions: one :class:`Provider` = a connection, a wallet and the sending options.

``send`` does what a careful sender does on a real cluster:

* a priority fee from ``getRecentPrioritizationFees`` for the accounts it writes (a percentile
  of recent slots), never above the configured cap, as ComputeBudget instructions (none when the
  fee is 0);
* sign with a fresh blockhash, ``sendTransaction`` with preflight; a send whose answer was lost
  is sent again byte for byte (same signature: it cannot land twice);
* confirmation by ``signatureSubscribe`` (:mod:`.pubsub`), with ``getSignatureStatuses`` polling
  when the socket is down and as a safety net;
* a transaction whose blockhash expired before it landed (proven by block height, and by its
  status) is rebuilt with a new blockhash and sent again;
* a refused or failed transaction raises :class:`~.failures.TransactionFailed` naming the
  program error (``NodeNotEnoughStake (6013)``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from nosana_node.chain.failures import (
    BlockhashExpired,
    ChainFailure,
    ConfirmationTimeout,
    RpcRequestError,
    TransactionFailed,
)
from nosana_node.chain.retry import retry_call
from nosana_node.chain.rpc import RpcClient
from nosana_node.chain.txerrors import ErrorNames, transaction_failed

log = logging.getLogger("nosana_node.chain")

PREFLIGHT_FAILURE = -32002


@dataclass(frozen=True)
class SendOptions:
    """How transactions are sent and confirmed."""

    #: highest priority fee paid, micro-lamports per compute unit; 0: never pay one
    priority_fee_cap: int = 100_000
    #: the percentile of recent per-slot fees that is paid (0-100)
    priority_fee_percentile: float = 75.0
    #: compute units requested when a priority fee is paid (the fee is price x limit)
    compute_unit_limit: int = 200_000
    #: seconds between status polls while the PubSub socket is up (a safety net)
    poll_interval: float = 5.0
    #: seconds between status polls while the socket is down
    fast_poll_interval: float = 1.0
    #: rebuilds with a new blockhash before giving up
    max_rebuilds: int = 5
    skip_preflight: bool = False


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction signed and about to be sent: what a caller keeps to learn later, even from
    another process, whether it landed (``signature``) and to send it again (``raw``) while its
    blockhash is valid (until block height ``last_valid``)."""

    signature: str
    raw: bytes
    last_valid: int


#: Called with each transaction signed, before it is sent (see :meth:`Provider.send`).
OnSigned = Callable[[SignedTransaction], None]


class _SignatureWaiter:
    """A ``signatureSubscribe`` for one signature; ``done`` is set by its notification."""

    def __init__(self, pubsub: Any, signature: str, commitment: str) -> None:
        self.done, self.ready = threading.Event(), threading.Event()
        self.value: Any = None
        self._sub = None
        if pubsub is not None:
            self._sub = pubsub.subscribe(
                "signatureSubscribe",
                [signature, {"commitment": commitment}],
                self._on_message,
                self._on_state,
                once=True,
            )

    def _on_message(self, value: Any) -> None:
        self.value = value if isinstance(value, dict) else {"err": None}
        self.done.set()

    def _on_state(self, up: bool) -> None:
        if up:
            self.ready.set()
        else:
            self.ready.clear()

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()


class Provider:
    """Signs and sends for ``wallet`` through ``connection`` (the fee payer is the wallet)."""

    def __init__(
        self,
        connection: RpcClient,
        wallet: Keypair,
        options: SendOptions | None = None,
        *,
        pubsub: Any = None,
        errors: ErrorNames | None = None,
    ) -> None:
        self.connection, self.wallet = connection, wallet
        self.options = options or SendOptions()
        self.pubsub = pubsub
        self.errors = errors
        self.clock = connection.clock

    @property
    def pubkey(self) -> Pubkey:
        return self.wallet.pubkey()

    # -- priority fee -----------------------------------------------------------------------------
    def priority_fee(self, instructions: Sequence[Instruction]) -> int:
        """Micro-lamports per compute unit to pay: a percentile of recent fees, capped."""
        cap = self.options.priority_fee_cap
        if cap <= 0:
            return 0
        writable = list({m.pubkey: None for ix in instructions for m in ix.accounts if m.is_writable})
        fees = sorted(self.connection.prioritization_fees(writable))
        return min(cap, percentile(fees, self.options.priority_fee_percentile))

    def _budget(self, instructions: Sequence[Instruction]) -> list[Instruction]:
        fee = self.priority_fee(instructions)
        if fee <= 0:
            return []
        return [set_compute_unit_limit(self.options.compute_unit_limit), set_compute_unit_price(fee)]

    # -- sending ----------------------------------------------------------------------------------
    def send(
        self,
        instructions: Sequence[Instruction],
        signers: Sequence[Keypair] = (),
        *,
        action: str,
        on_signed: OnSigned | None = None,
    ) -> str:
        """Send and confirm; the signature of the transaction that landed.

        ``action`` names what is done in error messages (``finish``). ``on_signed`` is called
        with every transaction signed (each rebuild too) before it is first sent, so that a
        caller can save it and, after a crash, ask :meth:`status` or follow it (:meth:`resume`)
        before sending anything again. Raises
        :class:`TransactionFailed` (refused or failed on chain), :class:`ConfirmationTimeout`
        (rebuilt ``max_rebuilds`` times without landing) or a transport failure once the
        connection's retry budget is spent.
        """
        body = [*self._budget(instructions), *instructions]
        keypairs = [self.wallet, *(s for s in signers if s.pubkey() != self.wallet.pubkey())]
        for attempt in range(1 + self.options.max_rebuilds):
            blockhash, last_valid = self.connection.latest_blockhash()
            tx = Transaction(keypairs, Message(body, self.wallet.pubkey()), blockhash)
            signature = str(tx.signatures[0])
            if on_signed is not None:
                on_signed(SignedTransaction(signature, bytes(tx), last_valid))
            try:
                self._submit(bytes(tx), signature, action)
                if self._confirm(signature, last_valid, action):
                    return signature
            except BlockhashExpired:
                pass
            log.info(
                "%s: blockhash expired before %s landed; rebuilding (%d)", action, signature, attempt + 1
            )
        raise ConfirmationTimeout(
            f"{action}: not confirmed after {1 + self.options.max_rebuilds} blockhashes; "
            "the cluster may be congested (raise :chain :priority-fee-cap)"
        )

    def resume(self, signed: SignedTransaction, *, action: str) -> bool:
        """Follow a transaction signed earlier (maybe by a process that died): True once it has
        landed (sent again, byte for byte, while its blockhash is valid: it cannot land twice);
        False when its blockhash expired without it landing (it never will). Raises
        :class:`TransactionFailed` when it landed with an error."""
        status = self._status(signed.signature)
        if status is not None:
            return self._landed(signed.signature, status, action)
        if self.connection.block_height() > signed.last_valid:
            return False
        try:
            self._submit(signed.raw, signed.signature, action)
            return self._confirm(signed.signature, signed.last_valid, action)
        except BlockhashExpired:
            return False

    def _submit(self, raw: bytes, signature: str, action: str) -> None:
        """Send ``raw`` until an answer comes; an answer lost on the way is sent again."""

        def once() -> None:
            try:
                self.connection.send_raw(raw, skip_preflight=self.options.skip_preflight)
            except RpcRequestError as exc:
                if exc.code != PREFLIGHT_FAILURE:
                    raise
                data = exc.data if isinstance(exc.data, dict) else {}
                err, logs = data.get("err"), list(data.get("logs") or [])
                if err == "AlreadyProcessed":  # an earlier send of these bytes landed
                    return
                if err == "BlockhashNotFound":
                    if self._status(signature) is None:
                        raise BlockhashExpired(f"{action}: blockhash expired") from None
                    return  # it landed before the blockhash expired
                if err is None:
                    raise TransactionFailed(action, exc.rpc_message) from None
                raise transaction_failed(action, err, logs, self._names()) from None

        retry_call(
            once, self.connection.backoff, clock=self.clock, sleep=self.connection.sleep, on_retry=_log_retry
        )

    def _confirm(self, signature: str, last_valid: int, action: str) -> bool:
        """True once landed (TransactionFailed if it landed with an error); False once its
        blockhash has expired without it landing.

        With the socket up the notification is awaited and the status polled every
        ``poll_interval`` only as a safety net; without it the status is polled every
        ``fast_poll_interval``.
        """
        waiter = _SignatureWaiter(self.pubsub, signature, self.connection.commitment)
        try:
            if self.pubsub is not None and not self.pubsub.failing.is_set():
                # the socket is up or coming up: its answer to the subscription, then notifications
                waiter.ready.wait(self.options.fast_poll_interval)
            while True:
                up = waiter.ready.is_set() and self.pubsub is not None and self.pubsub.connected.is_set()
                if up:
                    waiter.done.wait(self.options.poll_interval)
                if waiter.done.is_set():
                    return self._landed(signature, waiter.value, action)
                status = self._status(signature)
                if status is not None:
                    return self._landed(signature, status, action)
                if self.connection.block_height() > last_valid:
                    # expired; a last look, for a transaction that landed at the very end
                    status = self._status(signature)
                    return False if status is None else self._landed(signature, status, action)
                if not up:
                    waiter.done.wait(self.options.fast_poll_interval)
        finally:
            waiter.close()

    def status(self, signature: str) -> dict[str, Any] | None:
        """The status of a signature (``{"err": ..., "slot": ...}``), None when never seen."""
        return self.connection.signature_statuses([signature])[0]

    _status = status

    def _landed(self, signature: str, status: dict[str, Any], action: str) -> bool:
        err = status.get("err")
        if err is None:
            return True
        logs: list[str] = []
        try:
            tx = self.connection.call(
                "getTransaction", signature, {"encoding": "json", "maxSupportedTransactionVersion": 0}
            )
            logs = list(((tx or {}).get("meta") or {}).get("logMessages") or [])
        except ChainFailure:
            pass
        raise transaction_failed(action, err, logs, self._names(), signature)

    def _names(self) -> ErrorNames:
        if self.errors is not None:
            return self.errors
        from nosana_node.chain.addresses import MAINNET
        from nosana_node.chain.program import JobsProgram

        return JobsProgram.bundled(MAINNET.jobs_program)


def percentile(values: Sequence[int], pct: float) -> int:
    """The ``pct``-th percentile of sorted ``values`` (nearest rank; 0 for none)."""
    if not values:
        return 0
    rank = max(1, min(len(values), -(-len(values) * pct // 100)))
    return int(values[int(rank) - 1])


def _log_retry(failure: ChainFailure, attempt: int, delay: float) -> None:
    log.warning("%s; retrying in %.1f s (attempt %d)", failure, delay, attempt + 1)
