"""The local chain: LiteSVM with a validator's manners, safe to share between threads.

:class:`LocalChain` wraps ``solders.litesvm.LiteSVM`` and adds what a JSON-RPC endpoint needs
and LiteSVM leaves out:

* **slots and time** — a slot every 400 ms of wall time; the Clock sysvar follows wall time
  plus an offset that tests move with :meth:`LocalChain.warp`;
* **blockhashes** — a new blockhash every slot, each valid for 150 slots as on Solana
  (``BlockhashNotFound`` after that); a signature is accepted once (``AlreadyProcessed``);
* **history** — every landed transaction (failed ones too: they pay their fee) with its slot,
  time, logs, fee and balances, for ``getTransaction`` and ``getSignatureStatuses``;
* **an account index** — accounts by owner, for ``getProgramAccounts`` and token queries;
* **persistence** — changed accounts and new transactions are committed to a
  :class:`~.ledger.Ledger` by :meth:`LocalChain.flush` (the server flushes every slot);
* **events** — listeners hear of every change (accounts, signatures, slots) for subscriptions.

Method names follow LiteSVM's (``send_transaction``, ``get_account``, ``airdrop``, ...), so
genesis and tests run on either.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.responses import RpcSimulateTransactionResult
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless

from nosana_node.chain.addresses import TOKEN_PROGRAM
from nosana_node.localnet.ledger import Ledger, StoredTransaction

SLOT_SECONDS = 0.4
MAX_BLOCKHASH_AGE = 150  # slots a blockhash stays valid
SLOTS_PER_EPOCH = 432_000
LAMPORTS_PER_SIGNATURE = 5_000
FAUCET_LAMPORTS = 500_000_000 * 10**9
HISTORY_IN_MEMORY = 20_000  # recent transaction records kept in memory (all are in the ledger)

AnyTransaction = Transaction | VersionedTransaction


def error_json(err: Any) -> Any:
    """A solders transaction error in the JSON-RPC shape, e.g. ``{"InstructionError": [0, ...]}``."""
    if err is None:
        return None
    result = RpcSimulateTransactionResult(err=err, logs=None, accounts=None, units_consumed=None)
    return json.loads(result.to_json())["err"]


@dataclass
class Receipt:
    """The outcome of one transaction sent to the local chain."""

    signature: Signature
    slot: int
    err: Any  # a solders TransactionError, or None
    logs: list[str]
    compute_units: int
    landed: bool  # recorded in the ledger (False: rejected before execution or by preflight)

    @property
    def ok(self) -> bool:
        return self.err is None


@dataclass
class Simulation:
    """The outcome of a simulated transaction (nothing is committed)."""

    err: Any
    logs: list[str]
    compute_units: int
    accounts: dict[Pubkey, Account | None] = field(default_factory=dict)
    return_data: tuple[Pubkey, bytes] | None = None


@dataclass(frozen=True)
class AccountsChanged:
    """Accounts written by a transaction or directly (``None``: the account was closed)."""

    slot: int
    accounts: dict[Pubkey, Account | None]


@dataclass(frozen=True)
class SignatureLanded:
    slot: int
    signature: Signature
    err: Any  # JSON shape


@dataclass(frozen=True)
class SlotAdvanced:
    slot: int
    parent: int


Event = AccountsChanged | SignatureLanded | SlotAdvanced
Listener = Callable[[Event], None]


def _writable_keys(message: Message | MessageV0) -> list[Pubkey]:
    """The static account keys a message may write (lookup-table keys are not tracked)."""
    keys = list(message.account_keys)
    header = message.header
    signed = header.num_required_signatures
    writable_signed = signed - header.num_readonly_signed_accounts
    writable_end = len(keys) - header.num_readonly_unsigned_accounts
    return [k for i, k in enumerate(keys) if i < writable_signed or signed <= i < writable_end]


def _closed(account: Account | None) -> Account | None:
    return None if account is None or account.lamports == 0 else account


class LocalChain:
    """A LiteSVM chain with slots, blockhash expiry, history, an account index and a ledger."""

    def __init__(
        self,
        program_id: Pubkey,
        program: bytes,
        *,
        ledger: Ledger | None = None,
        faucet: Keypair | None = None,
        slot_seconds: float = SLOT_SECONDS,
    ) -> None:
        self.program_id = program_id
        self.ledger = ledger
        self.faucet = faucet or Keypair()
        self._slot_seconds = slot_seconds
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        # history, signatures and blockhash age are checked here, the validator way
        self._svm = LiteSVM().with_transaction_history(0).with_sigverify(False).with_blockhash_check(False)
        self._svm.add_program(program_id, program)
        self._owner_of: dict[Pubkey, Pubkey] = {}
        self._by_owner: dict[Pubkey, set[Pubkey]] = {}
        self._history: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._seen: OrderedDict[bytes, int] = OrderedDict()  # signature -> slot, while it could replay
        self._dirty: set[Pubkey] = set()
        self._pending: list[StoredTransaction] = []
        self._blockhashes: OrderedDict[Hash, int] = OrderedDict()
        self._offset = 0.0  # seconds added to wall time (warp)
        self._transaction_count = 0
        start_slot = 0
        if ledger is not None:
            for key, account in ledger.load_accounts():
                self._svm.set_account(key, account)
                self._index(key, account)
            start_slot = int(ledger.meta("slot", "0") or 0) + 1
            self._offset = float(ledger.meta("clock_offset", "0") or 0)
            self._transaction_count = int(ledger.meta("transaction_count", "0") or 0)
        self.genesis_hash = (
            Hash.from_string(ledger.meta("genesis_hash"))
            if ledger and ledger.meta("genesis_hash")
            else Hash.new_unique()
        )
        self._svm.set_account(self.faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", Pubkey.default()))
        self._base_slot, self._t0 = start_slot, time.monotonic()
        self._slot = start_slot - 1
        self._tick()

    # -- listeners --------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event (from the thread that caused it); returns an undo."""
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, events: Sequence[Event]) -> None:
        for listener in list(self._listeners):
            for event in events:
                listener(event)

    # -- slots, time, blockhashes -----------------------------------------------------------------
    def _tick(self) -> list[Event]:
        """Advance the slot to wall time (under the lock); returns the events to emit."""
        slot = self._base_slot + int((time.monotonic() - self._t0) / self._slot_seconds)
        if slot <= self._slot:
            return []
        parent, self._slot = self._slot, slot
        self._set_clock()
        self._svm.expire_blockhash()
        self._blockhashes[self._svm.latest_blockhash()] = slot + MAX_BLOCKHASH_AGE
        while self._blockhashes and next(iter(self._blockhashes.values())) < slot:
            self._blockhashes.popitem(last=False)
        while self._seen and next(iter(self._seen.values())) < slot - MAX_BLOCKHASH_AGE - 1:
            self._seen.popitem(last=False)  # its blockhash has expired: it cannot come back
        return [SlotAdvanced(slot, max(parent, 0))]

    def _set_clock(self) -> None:
        clock = self._svm.get_clock()
        clock.slot = self._slot
        clock.epoch = self._slot // SLOTS_PER_EPOCH
        clock.unix_timestamp = int(time.time() + self._offset)
        self._svm.set_clock(clock)

    def tick(self) -> None:
        """Advance slots and the clock to the wall time (the server calls this every slot)."""
        with self._lock:
            events = self._tick()
        self._emit(events)

    def skip_slots(self, count: int) -> None:
        """Advance the slot by ``count`` at once (tests: expire blockhashes without waiting)."""
        with self._lock:
            self._base_slot += count
            events = self._tick()
        self._emit(events)

    def now(self) -> int:
        """The chain's unix time (Clock sysvar)."""
        with self._lock:
            self._emit(self._tick())
            return int(self._svm.get_clock().unix_timestamp)

    def warp(self, seconds: float) -> None:
        """Move the chain's clock forward (or back) by ``seconds``."""
        with self._lock:
            self._offset += seconds
            self._set_clock()

    def set_time(self, unix: float) -> None:
        """Set the chain's clock to ``unix`` (it keeps following wall time from there)."""
        with self._lock:
            self._offset = unix - time.time()
            self._set_clock()

    @property
    def slot(self) -> int:
        with self._lock:
            events = self._tick()
            slot = self._slot
        self._emit(events)
        return slot

    block_height = slot  # no skipped slots: block height equals slot

    @property
    def transaction_count(self) -> int:
        return self._transaction_count

    def latest_blockhash(self) -> Hash:
        return self.latest_blockhash_info()[0]

    def latest_blockhash_info(self) -> tuple[Hash, int]:
        """The newest blockhash and the last block height at which it is valid."""
        with self._lock:
            events = self._tick()
            blockhash = self._svm.latest_blockhash()
            info = blockhash, self._blockhashes[blockhash]
        self._emit(events)
        return info

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        with self._lock:
            events = self._tick()
            valid = self._blockhashes.get(blockhash, -1) >= self._slot
        self._emit(events)
        return valid

    # -- accounts ---------------------------------------------------------------------------------
    def get_account(self, pubkey: Pubkey) -> Account | None:
        with self._lock:
            return _closed(self._svm.get_account(pubkey))

    def get_balance(self, pubkey: Pubkey) -> int:
        with self._lock:
            return self._svm.get_balance(pubkey) or 0

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        return self._svm.minimum_balance_for_rent_exemption(data_len)

    def set_account(self, pubkey: Pubkey, account: Account) -> None:
        """Write an account directly (genesis, tests); it is indexed, persisted and announced."""
        with self._lock:
            self._svm.set_account(pubkey, account)
            changed = self._touch([pubkey])
            events: list[Event] = [AccountsChanged(self._slot, changed)]
        self._emit(events)

    def _index(self, key: Pubkey, account: Account | None) -> None:
        old = self._owner_of.pop(key, None)
        if old is not None:
            self._by_owner[old].discard(key)
        if account is not None:
            self._owner_of[key] = account.owner
            self._by_owner.setdefault(account.owner, set()).add(key)

    def _touch(self, keys: Iterable[Pubkey]) -> dict[Pubkey, Account | None]:
        changed = {}
        for key in keys:
            account = _closed(self._svm.get_account(key))
            changed[key] = account
            self._index(key, account)
            self._dirty.add(key)
        return changed

    def program_accounts(self, owner: Pubkey) -> list[tuple[Pubkey, Account]]:
        """Every live account owned by ``owner``."""
        with self._lock:
            found = ((k, _closed(self._svm.get_account(k))) for k in self._by_owner.get(owner, ()))
            return sorted(((k, a) for k, a in found if a is not None), key=lambda item: bytes(item[0]))

    def token_accounts(
        self, owner: Pubkey, *, mint: Pubkey | None = None, program: Pubkey = TOKEN_PROGRAM
    ) -> list[tuple[Pubkey, Account]]:
        """Token accounts (owned by ``program``) whose token owner is ``owner``."""
        found = []
        for key, account in self.program_accounts(program):
            data = bytes(account.data)
            if (
                len(data) >= 165
                and data[32:64] == bytes(owner)
                and (mint is None or data[:32] == bytes(mint))
            ):
                found.append((key, account))
        return found

    # -- transactions -----------------------------------------------------------------------------
    def send_transaction(self, tx: AnyTransaction, *, preflight: bool = False) -> Receipt:
        """Execute a signed transaction. With ``preflight``, a failing transaction is not landed
        (nothing is charged or recorded), as an RPC node's preflight check would refuse it."""
        vtx = tx if isinstance(tx, VersionedTransaction) else VersionedTransaction.from_legacy(tx)
        signature = vtx.signatures[0]
        with self._lock:
            events = self._tick()
            rejected = self._precheck(vtx, verify=True)
            if rejected is not None:
                receipt = Receipt(signature, self._slot, rejected, [], 0, landed=False)
            else:
                receipt = self._execute(vtx, preflight, events)
        self._emit(events)
        return receipt

    def _precheck(self, vtx: VersionedTransaction, *, verify: bool, blockhash: bool = True) -> Any:
        """The error that rejects ``vtx`` before execution, or None (in the validator's order)."""
        if verify and not all(vtx.verify_with_results()):
            return TransactionErrorFieldless.SignatureFailure
        if bytes(vtx.signatures[0]) in self._seen:
            return TransactionErrorFieldless.AlreadyProcessed
        expired = self._blockhashes.get(vtx.message.recent_blockhash, -1) < self._slot
        if blockhash and expired and not vtx.uses_durable_nonce():
            return TransactionErrorFieldless.BlockhashNotFound
        return None

    def _execute(self, vtx: VersionedTransaction, preflight: bool, events: list[Event]) -> Receipt:
        message = vtx.message
        keys = list(message.account_keys)
        payer_before = self._svm.get_account(keys[0])
        pre = [self._svm.get_balance(k) or 0 for k in keys]
        result = self._svm.send_transaction(vtx)
        failed = callable(getattr(result, "err", None))
        meta = result.meta() if failed else result
        err = result.err() if failed else None
        logs, units = list(meta.logs()), meta.compute_units_consumed()
        landed = not failed or (self._svm.get_balance(keys[0]) or 0) != pre[0]
        signature = vtx.signatures[0]
        if failed and landed and preflight and payer_before is not None:
            self._svm.set_account(keys[0], payer_before)  # preflight refuses it: undo the fee
            landed = False
        if landed:
            changed = self._touch(_writable_keys(message))
            post = [self._svm.get_balance(k) or 0 for k in keys]
            record = {
                "slot": self._slot,
                "blockTime": int(self._svm.get_clock().unix_timestamp),
                "tx": base64.b64encode(bytes(vtx)).decode(),
                "err": error_json(err),
                "logs": logs,
                "fee": LAMPORTS_PER_SIGNATURE * len(vtx.signatures),
                "preBalances": pre,
                "postBalances": post,
                "computeUnits": units,
            }
            self._remember(signature, record)
            events.append(AccountsChanged(self._slot, changed))
            events.append(SignatureLanded(self._slot, signature, record["err"]))
        return Receipt(signature, self._slot, err, logs, units, landed)

    def _remember(self, signature: Signature, record: dict[str, Any]) -> None:
        key = bytes(signature)
        self._history[key] = record
        self._seen[key] = record["slot"]
        self._pending.append(StoredTransaction(key, record["slot"], record))
        self._transaction_count += 1
        while len(self._history) > HISTORY_IN_MEMORY:
            self._history.popitem(last=False)

    def simulate_transaction(
        self,
        tx: AnyTransaction,
        *,
        sig_verify: bool = False,
        replace_blockhash: bool = False,
        accounts: Sequence[Pubkey] = (),
    ) -> Simulation:
        """Run ``tx`` without committing anything."""
        vtx = tx if isinstance(tx, VersionedTransaction) else VersionedTransaction.from_legacy(tx)
        with self._lock:
            events = self._tick()
            rejected = self._precheck(vtx, verify=sig_verify, blockhash=not replace_blockhash)
            if rejected is not None and rejected != TransactionErrorFieldless.AlreadyProcessed:
                simulation = Simulation(rejected, [], 0, {k: None for k in accounts})
            else:
                simulation = self._simulate(vtx, accounts)
        self._emit(events)
        return simulation

    def _simulate(self, vtx: VersionedTransaction, wanted: Sequence[Pubkey]) -> Simulation:
        result = self._svm.simulate_transaction(vtx)
        failed = callable(getattr(result, "err", None))
        meta = result.meta()
        post = {} if failed else {k: _closed(a) for k, a in result.post_accounts()}
        accounts = {k: post[k] if k in post else _closed(self._svm.get_account(k)) for k in wanted}
        return_data = None
        if not failed:
            rd = meta.return_data()
            if rd is not None and bytes(rd.data):
                return_data = (rd.program_id, bytes(rd.data))
        return Simulation(
            result.err() if failed else None,
            list(meta.logs()),
            meta.compute_units_consumed(),
            accounts,
            return_data,
        )

    def airdrop(self, pubkey: Pubkey, lamports: int) -> Receipt:
        """Send ``lamports`` from the faucet with a real transfer transaction."""
        with self._lock:
            ix = transfer(
                TransferParams(from_pubkey=self.faucet.pubkey(), to_pubkey=pubkey, lamports=lamports)
            )
            message = Message([ix], self.faucet.pubkey())
            tx = Transaction([self.faucet], message, self.latest_blockhash())
            if bytes(tx.signatures[0]) in self._seen:  # same airdrop in the same slot: new blockhash
                self._svm.expire_blockhash()
                self._blockhashes[self._svm.latest_blockhash()] = self._slot + MAX_BLOCKHASH_AGE
                tx = Transaction([self.faucet], message, self._svm.latest_blockhash())
            return self.send_transaction(tx)

    def transaction(self, signature: Signature) -> dict[str, Any] | None:
        """The history record of a landed transaction (see :meth:`_execute`), or None."""
        key = bytes(signature)
        with self._lock:
            record = self._history.get(key)
        if record is None and self.ledger is not None:
            self.flush()
            stored = self.ledger.transaction(key)
            record = stored.record if stored else None
        return record

    # -- persistence ------------------------------------------------------------------------------
    def flush(self, extra_meta: dict[str, str] | None = None) -> None:
        """Commit changed accounts, new transactions, the clock and ``extra_meta`` to the ledger."""
        if self.ledger is None:
            return
        with self._lock:
            idle = not self._dirty and not self._pending and self._persisted_slot == self._slot
            if idle and not extra_meta:
                return
            accounts = [(k, _closed(self._svm.get_account(k))) for k in self._dirty]
            meta = {
                "slot": str(self._slot),
                "clock_offset": repr(self._offset),
                "transaction_count": str(self._transaction_count),
                "genesis_hash": str(self.genesis_hash),
                **(extra_meta or {}),
            }
            self.ledger.commit(accounts, self._pending, meta)  # raises: everything stays pending
            self._pending, self._dirty = [], set()
            self._persisted_slot = self._slot

    _persisted_slot = -1

    def close(self) -> None:
        """Flush to the ledger (the caller closes the ledger itself)."""
        self.flush()
