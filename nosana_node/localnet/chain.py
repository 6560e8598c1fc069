"""The local chain: LiteSVM with a validator's manners, safe to share between threads.

:class:`LocalChain` wraps ``solders.litesvm.LiteSVM`` and adds what a JSON-RPC endpoint needs
and LiteSVM leaves out:

* **slots and time** — a slot every 400 ms (:class:`~.clock.SlotClock`, injectable); the Clock
  sysvar follows wall time plus an offset that tests move with :meth:`LocalChain.warp`;
* **blockhashes** — a new blockhash every slot, each valid for 150 slots as on Solana
  (``BlockhashNotFound`` after that); a signature is accepted once (``AlreadyProcessed``);
* **commitment** — a transaction is ``confirmed`` once it has run; when its slot ends, the slot
  is sealed, and :meth:`LocalChain.commit` writes sealed slots to the :class:`~.ledger.Ledger`
  (durably); only then are they ``finalized``. Reads at ``finalized`` see committed state only.
  While a commit fails, transactions are refused (:class:`LedgerUnavailable`) until one succeeds;
* **history** — every landed transaction (failed ones too: they pay their fee) with its record
  (:mod:`.records`); uncommitted ones in memory, committed ones in the ledger;
* **an account index** — accounts by owner, for ``getProgramAccounts`` and token queries;
* **events** — listeners hear of every change (accounts, signatures, slots, commits).

Memory: what is ours is bounded (statuses of recent transactions, the replay window, records
until they are committed); the accounts themselves live in LiteSVM, one entry per live account.
Method names follow LiteSVM's (``send_transaction``, ``get_account``, ``airdrop``, ...), so
genesis and tests run on either.
"""

from __future__ import annotations

import json
import threading
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

from nosana_node.chain.addresses import SYSTEM_PROGRAM, TOKEN_PROGRAM
from nosana_node.errors import ChainError
from nosana_node.localnet.clock import SLOT_SECONDS, SlotClock
from nosana_node.localnet.encoding import TOKEN_PROGRAMS, mint_decimals
from nosana_node.localnet.ledger import Block, Commit, Ledger, StoredTransaction
from nosana_node.localnet.records import LAMPORTS_PER_SIGNATURE, build_record

MAX_BLOCKHASH_AGE = 150  # slots a blockhash stays valid
SLOTS_PER_EPOCH = 432_000
FAUCET_LAMPORTS = 500_000_000 * 10**9
HISTORY_IN_MEMORY = 20_000  # records kept in memory by a chain without a ledger
RECENT_STATUSES = 20_000  # statuses of committed transactions answered without the ledger

__all__ = ["LAMPORTS_PER_SIGNATURE", "LedgerUnavailable", "LocalChain", "Receipt"]

AnyTransaction = Transaction | VersionedTransaction
_EMPTY = Account(0, b"", SYSTEM_PROGRAM)


class LedgerUnavailable(ChainError):
    """The ledger cannot be written: transactions are refused until a commit succeeds."""


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
    landed: bool  # recorded in the history (False: rejected before execution or by preflight)

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
class Status:
    """Where a transaction stands: its slot, error (JSON shape) and whether it is finalized."""

    slot: int
    err: Any
    finalized: bool


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
    record: dict[str, Any]
    addresses: tuple[bytes, ...]  # the account keys it mentions


@dataclass(frozen=True)
class SlotAdvanced:
    slot: int
    parent: int


@dataclass(frozen=True)
class Finalized:
    """A commit reached the ledger: slots up to ``slot`` are final, with these account states
    and transactions (signature bytes, slot, error JSON, record)."""

    slot: int
    accounts: dict[Pubkey, Account | None]
    transactions: list[StoredTransaction]


Event = AccountsChanged | SignatureLanded | SlotAdvanced | Finalized
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
    """A LiteSVM chain with slots, blockhash expiry, commitment, history, an account index."""

    def __init__(
        self,
        program_id: Pubkey,
        program: bytes,
        *,
        ledger: Ledger | None = None,
        faucet: Keypair | None = None,
        slot_seconds: float = SLOT_SECONDS,
        clock: Callable[[int], SlotClock] | None = None,
    ) -> None:
        self.program_id = program_id
        self.ledger = ledger
        self.faucet = faucet or Keypair()
        self._lock = threading.RLock()
        self._commit_lock = threading.Lock()
        self._listeners: list[Listener] = []
        # history, signatures and blockhash age are checked here, the validator way
        self._svm = LiteSVM().with_transaction_history(0).with_sigverify(False).with_blockhash_check(False)
        self._svm.add_program(program_id, program)
        self._by_owner: dict[Pubkey, set[Pubkey]] = {}
        self._owner_of: dict[Pubkey, Pubkey] = {}
        # transactions not yet committed (without a ledger: the recent ones)
        self._records: OrderedDict[bytes, StoredTransaction] = OrderedDict()
        self._statuses: OrderedDict[bytes, Status] = OrderedDict()  # recent, committed
        self._seen: OrderedDict[bytes, int] = OrderedDict()  # signature -> slot, while it could replay
        self._open = Commit()  # changes of the current slot
        self._sealed = Commit()  # closed slots waiting for a commit
        self._committing: Commit | None = None
        self._blockhashes: OrderedDict[Hash, int] = OrderedDict()  # -> last valid slot
        self._slot_hashes: OrderedDict[int, tuple[Hash, int]] = OrderedDict()  # slot -> (hash, time)
        self._decimals: dict[Pubkey, int] = {}
        self._offset = 0.0  # seconds added to wall time (warp)
        self._transaction_count = 0
        self._commit_error: str | None = None
        self._last_block: tuple[int, str] = (0, str(Hash.default()))
        start_slot = 0
        if ledger is not None:
            for key, account in ledger.load_accounts():
                self._svm.set_account(key, account)
                self._index(key, account)
            start_slot = int(ledger.meta("slot", "-1") or -1) + 1
            self._offset = float(ledger.meta("clock_offset", "0") or 0)
            self._transaction_count = int(ledger.meta("transaction_count", "0") or 0)
            last = ledger.meta("last_block")
            if last:
                slot_text, blockhash = last.split(":", 1)
                self._last_block = (int(slot_text), blockhash)
        self.genesis_hash = (
            Hash.from_string(ledger.meta("genesis_hash"))
            if ledger and ledger.meta("genesis_hash")
            else Hash.new_unique()
        )
        self._finalized_slot = start_slot - 1
        self._svm.set_account(self.faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", SYSTEM_PROGRAM))
        self.clock = clock(start_slot) if clock else SlotClock(start_slot, slot_seconds)
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
        """Advance to the clock's slot (under the lock), sealing the slot that ends."""
        slot = self.clock.slot()
        if slot <= self._slot:
            return []
        parent, self._slot = self._slot, slot
        events: list[Event] = []
        if parent >= 0 and parent in self._slot_hashes:
            self._seal(parent)
            if self.ledger is None:
                events.extend(self._finalize(self._take_sealed()))
        self._set_clock()
        self._svm.expire_blockhash()
        blockhash = self._svm.latest_blockhash()
        self._blockhashes[blockhash] = slot + MAX_BLOCKHASH_AGE
        self._slot_hashes[slot] = (blockhash, int(self._svm.get_clock().unix_timestamp))
        while self._blockhashes and next(iter(self._blockhashes.values())) < slot:
            self._blockhashes.popitem(last=False)
        while len(self._slot_hashes) > MAX_BLOCKHASH_AGE + 2:
            self._slot_hashes.popitem(last=False)
        while self._seen and next(iter(self._seen.values())) < slot - MAX_BLOCKHASH_AGE - 1:
            self._seen.popitem(last=False)  # its blockhash has expired: it cannot come back
        events.append(SlotAdvanced(slot, max(parent, 0)))
        return events

    def _seal(self, slot: int) -> None:
        """Close ``slot``: its changes and its block move to the sealed batch."""
        blockhash, block_time = self._slot_hashes[slot]
        parent_slot, previous = self._last_block
        block = Block(slot, parent_slot, str(blockhash), previous, block_time)
        self._last_block = (slot, str(blockhash))
        self._open.slot = slot
        self._open.blocks.append(block)
        self._sealed = self._sealed.then(self._open)
        self._open = Commit()

    def _set_clock(self) -> None:
        clock = self._svm.get_clock()
        clock.slot = self._slot
        clock.epoch = self._slot // SLOTS_PER_EPOCH
        clock.unix_timestamp = int(self.clock.wall() + self._offset)
        self._svm.set_clock(clock)

    def tick(self) -> None:
        """Advance slots and the clock to the clock's time (the server calls this every slot)."""
        with self._lock:
            events = self._tick()
        self._emit(events)

    def advance_slot(self, count: int = 1) -> int:
        """Start a new slot now, ``count`` slots on (tests: expire blockhashes without
        waiting; also before a final flush); returns the new slot."""
        with self._lock:
            self.clock.force(count)
            events = self._tick()
            slot = self._slot
        self._emit(events)
        return slot

    def skip_slots(self, count: int) -> None:
        """Advance the slot by ``count`` at once (the name tests of the chain client use)."""
        self.advance_slot(count)

    def now(self) -> int:
        """The chain's unix time (Clock sysvar)."""
        with self._lock:
            events = self._tick()
            unix = int(self._svm.get_clock().unix_timestamp)
        self._emit(events)
        return unix

    def warp(self, seconds: float) -> None:
        """Move the chain's clock forward (or back) by ``seconds``."""
        with self._lock:
            self._offset += seconds
            self._set_clock()

    def set_time(self, unix: float) -> None:
        """Set the chain's clock to ``unix`` (it keeps following wall time from there)."""
        with self._lock:
            self._offset = unix - self.clock.wall()
            self._set_clock()

    @property
    def slot(self) -> int:
        """The current (``processed``/``confirmed``) slot."""
        with self._lock:
            events = self._tick()
            slot = self._slot
        self._emit(events)
        return slot

    @property
    def root(self) -> int:
        """The last finalized slot, as last computed (no clock tick)."""
        return self._finalized_slot

    @property
    def finalized_slot(self) -> int:
        """The last slot whose state is durably in the ledger."""
        self.tick()
        return self._finalized_slot

    block_height = slot  # no skipped slots: block height equals slot

    @property
    def transaction_count(self) -> int:
        return self._transaction_count

    @property
    def commit_error(self) -> str | None:
        """Why the last commit failed, while commits fail (transactions are refused then)."""
        return self._commit_error

    def latest_blockhash(self) -> Hash:
        return self.latest_blockhash_info()[0]

    def latest_blockhash_info(self, *, finalized: bool = False) -> tuple[Hash, int]:
        """The newest blockhash (of the finalized slot with ``finalized``) and the last block
        height at which it is valid."""
        with self._lock:
            events = self._tick()
            blockhash = self._svm.latest_blockhash()
            if finalized and self._finalized_slot in self._slot_hashes:
                blockhash = self._slot_hashes[self._finalized_slot][0]
            info = blockhash, self._blockhashes.get(blockhash, self._slot + MAX_BLOCKHASH_AGE)
        self._emit(events)
        return info

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        with self._lock:
            events = self._tick()
            valid = self._blockhashes.get(blockhash, -1) >= self._slot
        self._emit(events)
        return valid

    # -- accounts ---------------------------------------------------------------------------------
    def _uncommitted(self, key: Pubkey) -> bool:
        """True if ``key`` changed since the last commit (under the lock)."""
        return (
            key in self._open.accounts
            or key in self._sealed.accounts
            or (self._committing is not None and key in self._committing.accounts)
        )

    def get_account(self, pubkey: Pubkey, *, finalized: bool = False) -> Account | None:
        """An account as of now, or as committed to the ledger (``finalized``)."""
        with self._lock:
            if not (finalized and self.ledger is not None and self._uncommitted(pubkey)):
                return _closed(self._svm.get_account(pubkey))
        return self.ledger.account(pubkey)

    def get_balance(self, pubkey: Pubkey, *, finalized: bool = False) -> int:
        account = self.get_account(pubkey, finalized=finalized)
        return account.lamports if account else 0

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        return self._svm.minimum_balance_for_rent_exemption(data_len)

    def decimals(self, mint: Pubkey) -> int | None:
        """Decimals of an SPL Token mint (None if it is not one); mints never change them."""
        if mint in self._decimals:
            return self._decimals[mint]
        decimals = mint_decimals(self.get_account(mint))
        if decimals is not None:
            self._decimals[mint] = decimals
        return decimals

    def set_account(self, pubkey: Pubkey, account: Account) -> None:
        """Write an account directly (genesis, tests); it is indexed, persisted and announced."""
        with self._lock:
            self._svm.set_account(pubkey, account)
            changed = self._touch([pubkey])
            events: list[Event] = [AccountsChanged(self._slot, changed)]
        self._emit(events)

    def _index(self, key: Pubkey, account: Account | None) -> None:
        owner = account.owner if account is not None else None
        old = self._owner_of.get(key)
        if old == owner:
            return
        if old is not None:
            del self._owner_of[key]
            self._by_owner[old].discard(key)
        if owner is not None:
            self._owner_of[key] = owner
            self._by_owner.setdefault(owner, set()).add(key)

    def _touch(self, keys: Iterable[Pubkey]) -> dict[Pubkey, Account | None]:
        """Re-read written accounts: index them, remember them for the next commit, and store
        them back compacted (LiteSVM keeps an account's spare buffer otherwise, ~10 KiB each)."""
        changed = {}
        for key in keys:
            account = _closed(self._svm.get_account(key))
            if account is None or not account.executable:
                self._svm.set_account(key, account or _EMPTY)
            changed[key] = account
            self._index(key, account)
        self._open.accounts.update(changed)
        return changed

    def program_accounts(self, owner: Pubkey, *, finalized: bool = False) -> list[tuple[Pubkey, Account]]:
        """Every live account owned by ``owner`` (one consistent snapshot), sorted by address."""
        with self._lock:
            keys = set(self._by_owner.get(owner, ()))
            changed: set[Pubkey] = set()
            if finalized and self.ledger is not None:
                changed = {
                    k
                    for batch in (self._open, self._sealed, self._committing)
                    if batch is not None
                    for k in batch.accounts
                }
            found = {k: _closed(self._svm.get_account(k)) for k in keys - changed}
        for key in changed:  # their committed state (they may have changed owner since)
            found[key] = self.ledger.account(key) if self.ledger else None
        return sorted(
            ((k, a) for k, a in found.items() if a is not None and a.owner == owner),
            key=lambda item: bytes(item[0]),
        )

    def token_accounts(
        self,
        owner: Pubkey,
        *,
        mint: Pubkey | None = None,
        program: Pubkey = TOKEN_PROGRAM,
        finalized: bool = False,
    ) -> list[tuple[Pubkey, Account]]:
        """Token accounts (owned by ``program``) whose token owner is ``owner``."""
        found = []
        for key, account in self.program_accounts(program, finalized=finalized):
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
        (nothing is charged or recorded), as an RPC node's preflight check would refuse it.
        :class:`LedgerUnavailable` while the ledger cannot be written."""
        vtx = tx if isinstance(tx, VersionedTransaction) else VersionedTransaction.from_legacy(tx)
        signature = vtx.signatures[0]
        with self._lock:
            if self._commit_error is not None:
                raise LedgerUnavailable(self._commit_error)
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
        svm = self._svm
        payer_before = svm.get_account(keys[0])
        pre = [svm.get_balance(k) or 0 for k in keys]
        token_keys = [i for i, k in enumerate(keys) if self._owner_of.get(k) in TOKEN_PROGRAMS]
        pre_tokens = {i: svm.get_account(keys[i]) for i in token_keys}
        result = svm.send_transaction(vtx)
        failed = callable(getattr(result, "err", None))
        meta = result.meta() if failed else result
        err = result.err() if failed else None
        logs, units = list(meta.logs()), meta.compute_units_consumed()
        landed = not failed or (svm.get_balance(keys[0]) or 0) != pre[0]
        signature = vtx.signatures[0]
        if failed and landed and preflight and payer_before is not None:
            svm.set_account(keys[0], payer_before)  # preflight refuses it: undo the fee
            landed = False
        if landed:
            changed = self._touch(_writable_keys(message))
            post = [
                (changed[k].lamports if changed[k] else 0) if k in changed else before
                for k, before in zip(keys, pre, strict=True)
            ]
            token_keys += [
                i for i, k in enumerate(keys) if k in changed and self._owner_of.get(k) in TOKEN_PROGRAMS
            ]
            post_tokens = {i: changed.get(keys[i], pre_tokens.get(i)) for i in sorted(set(token_keys))}
            record = build_record(
                vtx,
                slot=self._slot,
                block_time=int(svm.get_clock().unix_timestamp),
                err=error_json(err),
                metadata=meta,
                balances=(pre, post),
                tokens=({i: pre_tokens[i] for i in sorted(pre_tokens)}, post_tokens),
            )
            stored = self._remember(signature, record, keys)
            events.append(AccountsChanged(self._slot, changed))
            events.append(SignatureLanded(self._slot, signature, record["err"], record, stored.addresses))
        return Receipt(signature, self._slot, err, logs, units, landed)

    def _remember(
        self, signature: Signature, record: dict[str, Any], keys: list[Pubkey]
    ) -> StoredTransaction:
        key = bytes(signature)
        stored = StoredTransaction(key, record["slot"], record, tuple(bytes(k) for k in keys))
        self._records[key] = stored
        self._seen[key] = record["slot"]
        self._open.transactions.append(stored)
        self._transaction_count += 1
        return stored

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

    # -- history ----------------------------------------------------------------------------------
    def transaction(self, signature: Signature, *, finalized: bool = False) -> dict[str, Any] | None:
        """The history record of a landed transaction (:mod:`.records`), or None; with
        ``finalized``, only once it is committed."""
        key = bytes(signature)
        with self._lock:
            stored = self._records.get(key)
            if stored is not None:
                return stored.record if not finalized or key in self._statuses else None
        if self.ledger is not None:
            found = self.ledger.transaction(key)
            return found.record if found else None
        return None

    def status(self, signature: Signature) -> Status | None:
        """Where a transaction stands (None: unknown)."""
        key = bytes(signature)
        with self._lock:
            if key in self._statuses:
                return self._statuses[key]
            stored = self._records.get(key)
            if stored is not None:
                return Status(stored.slot, stored.record["err"], False)
        if self.ledger is not None:
            found = self.ledger.status(key)
            if found is not None:
                return Status(found[0], found[1], True)
        return None

    def signatures_for_address(
        self,
        address: Pubkey,
        *,
        before: bytes | None = None,
        until: bytes | None = None,
        limit: int = 1000,
        finalized: bool = False,
    ) -> list[tuple[bytes, Status, int]]:
        """(signature, status, block time) of transactions that mention ``address``, newest
        first, after ``before`` and down to (not including) ``until``."""
        needle = bytes(address)
        with self._lock:
            memory = [
                (t, Status(t.slot, t.record["err"], t.signature in self._statuses))
                for t in reversed(self._records.values())
                if needle in t.addresses and (not finalized or t.signature in self._statuses)
            ]
        signatures = [t.signature for t, _ in memory]
        start = 0
        if before is not None:  # older than ``before``: all of the memory if it is committed
            start = signatures.index(before) + 1 if before in signatures else len(memory)
        found: list[tuple[bytes, Status, int]] = []
        for t, status in memory[start:]:
            if t.signature == until or len(found) >= limit:
                return found
            found.append((t.signature, status, t.record["blockTime"]))
        if self.ledger is not None and len(found) < limit:
            seen = {s for s, _, _ in found}
            rows = self.ledger.signatures_for_address(
                address,
                before=None if before in signatures else before,
                until=until,
                limit=limit - len(found) + len(seen),
            )
            for signature, slot, err, block_time in rows:
                if signature not in seen and len(found) < limit:
                    found.append((signature, Status(slot, err, True), block_time))
        return found

    def block(self, slot: int, *, finalized: bool = False) -> tuple[Block, list[dict[str, Any]]] | None:
        """A closed slot and the records of its transactions (None: no such block, or not yet
        final with ``finalized``)."""
        with self._lock:
            if finalized and slot > self._finalized_slot:
                return None
            for batch in (self._committing, self._sealed):
                for block in batch.blocks if batch is not None else ():
                    if block.slot == slot:
                        return block, [t.record for t in batch.transactions if t.slot == slot]
            if self.ledger is None:
                return None
        block = self.ledger.block(slot)
        if block is None:
            return None
        return block, [t.record for t in self.ledger.block_transactions(slot)]

    # -- persistence ------------------------------------------------------------------------------
    def _take_sealed(self) -> Commit:
        batch, self._sealed = self._sealed, Commit()
        batch.meta.update(
            {
                "slot": str(self._slot),  # a restart goes on after every slot seen so far
                "clock_offset": repr(self._offset),
                "transaction_count": str(self._transaction_count),
                "genesis_hash": str(self.genesis_hash),
                "last_block": f"{self._last_block[0]}:{self._last_block[1]}",
            }
        )
        return batch

    def _finalize(self, batch: Commit) -> list[Event]:
        """Mark ``batch`` committed (under the lock); the event that announces it."""
        if batch.slot >= 0:
            self._finalized_slot = max(self._finalized_slot, batch.slot)
        for t in batch.transactions:
            self._statuses[t.signature] = Status(t.slot, t.record["err"], True)
            if self.ledger is not None:
                self._records.pop(t.signature, None)
        while len(self._statuses) > RECENT_STATUSES:
            self._statuses.popitem(last=False)
        while self.ledger is None and len(self._records) > HISTORY_IN_MEMORY:
            self._records.popitem(last=False)
        return [Finalized(self._finalized_slot, batch.accounts, batch.transactions)]

    def commit(self, extra_meta: dict[str, str] | None = None) -> bool:
        """Write the sealed slots to the ledger, durably (one committer at a time; call it off
        the event loop). True if something was written. On failure the slots stay sealed,
        transactions are refused, and :class:`LedgerUnavailable` is raised."""
        if self.ledger is None:
            return False
        with self._commit_lock:
            with self._lock:
                events = self._tick()
                idle = self._sealed.empty and not extra_meta
                if not idle:
                    batch = self._take_sealed()
                    batch.meta.update(extra_meta or {})
                    self._committing = batch
            if idle:
                self._emit(events)
                return False
            try:
                self.ledger.commit(batch)
            except ChainError as exc:
                with self._lock:
                    self._committing = None
                    self._sealed = batch.then(self._sealed)
                    self._commit_error = (
                        f"the local market cannot write its ledger ({exc}); "
                        "transactions are refused until it can"
                    )
                self._emit(events)
                raise LedgerUnavailable(self._commit_error) from None
            with self._lock:
                self._committing = None
                self._commit_error = None
                events.extend(self._finalize(batch))
        self._emit(events)
        return True

    def flush(self, extra_meta: dict[str, str] | None = None) -> None:
        """End the current slot and commit everything (genesis, shutdown, tests)."""
        if self.ledger is None:
            return
        with self._lock:
            if self._open.accounts or self._open.transactions:
                self.clock.force()
        self.commit(extra_meta)

    def close(self) -> None:
        """Flush to the ledger (the caller closes the ledger itself)."""
        self.flush()
