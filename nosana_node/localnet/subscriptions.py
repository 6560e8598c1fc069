"""WebSocket subscriptions (Solana PubSub): who hears which chain event, and when.

Supported: ``account``, ``program`` (with filters), ``signature``, ``slot``, ``root`` and
``logs`` (``all`` or ``{"mentions": [address]}``) subscriptions and their unsubscribes, with
Solana's notification shapes. Commitment (default ``finalized``, as on Solana): at
``processed``/``confirmed`` a change is announced when its transaction runs; at ``finalized``
when its slot is committed to the ledger, with the committed state. A signature subscription
ends after its one notification; one for a transaction that has already reached the wanted
commitment is answered right after the subscription id.

Identical subscriptions (same kind, address, filters, encoding, commitment) share one source:
each notification is encoded once, whatever the number of subscribers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature

from nosana_node.localnet import params as p
from nosana_node.localnet.chain import (
    AccountsChanged,
    Event,
    Finalized,
    LocalChain,
    SignatureLanded,
    SlotAdvanced,
)
from nosana_node.localnet.encoding import (
    CLOSED_ACCOUNT,
    RpcError,
    account_filter,
    encode_account,
    invalid_params,
    pubkey_param,
    signature_param,
)

KINDS = ("account", "program", "signature", "slot", "root", "logs")


class Connection(Protocol):
    """A WebSocket client: anything that queues a text message for sending."""

    def send(self, text: str) -> None: ...


@dataclass
class Source:
    """What identical subscriptions share: the kind, its key and options, and the subscribers."""

    kind: str
    key: Any  # Pubkey (account, program, logs mentions), bytes (signature), None
    encoding: str
    finalized: bool
    keep: Callable[[bytes], bool] = field(default=lambda data: True)
    subscribers: dict[int, Connection] = field(default_factory=dict)


def _notification(method: str, result: Any) -> Callable[[int], str]:
    """A message builder: the result is encoded once, then each subscription id is put in."""
    head = f'{{"jsonrpc":"2.0","method":"{method}","params":{{"result":{p.dumps(result)},"subscription":'
    return lambda sid: f"{head}{sid}}}}}"


class Subscriptions:
    """The subscriptions of one server; :meth:`dispatch` runs on the server's event loop."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self._ids = itertools.count(1)
        self._sources: dict[tuple[Any, ...], Source] = {}
        self._by_id: dict[int, tuple[tuple[Any, ...], Connection]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def sources(self) -> int:
        return len(self._sources)

    # -- requests ---------------------------------------------------------------------------------
    def handles(self, method: str) -> bool:
        kind = method.removesuffix("Subscribe").removesuffix("Unsubscribe")
        return kind in KINDS and method in (f"{kind}Subscribe", f"{kind}Unsubscribe")

    def request(self, conn: Connection, method: str, params: list[Any]) -> tuple[Any, list[str]]:
        """Answer a (un)subscribe request: (the subscription id or True, messages to send
        right after the answer)."""
        if method.endswith("Unsubscribe"):
            p.arity(params, 1, 0)
            return self._unsubscribe(conn, method.removesuffix("Unsubscribe"), params[0]), []
        kind = method.removesuffix("Subscribe")
        required = 0 if kind in ("slot", "root") else 1
        p.arity(params, required, 0 if kind in ("slot", "root") else 1)
        cfg = p.config(params, 1) if required else {}
        finalized = p.commitment(cfg) == "finalized"
        encoding = cfg.get("encoding") or ("base64" if kind == "program" else "binary")
        key: Any = None
        keep: Callable[[bytes], bool] = lambda data: True  # noqa: E731
        filters = None
        if kind in ("account", "program"):
            key = pubkey_param(params[0])
            if kind == "program":
                filters = cfg.get("filters")
                keep = account_filter(filters)
            encode_account(CLOSED_ACCOUNT, encoding)  # refuses an unknown encoding now
        elif kind == "signature":
            key = bytes(signature_param(params[0]))
        elif kind == "logs":
            key = self._logs_filter(params[0])
        source_key = (kind, key, encoding, json.dumps(filters, sort_keys=True), finalized)
        source = self._sources.get(source_key)
        if source is None:
            source = self._sources[source_key] = Source(kind, key, encoding, finalized, keep)
        sid = next(self._ids)
        source.subscribers[sid] = conn
        self._by_id[sid] = (source_key, conn)
        followups: list[str] = []
        if kind == "signature":
            status = self.chain.status(Signature.from_bytes(key))
            if status is not None and (status.finalized or not finalized):
                for target, text in self._signature_done(source, status.slot, status.err):
                    if target is conn:
                        followups.append(text)
                    else:
                        target.send(text)
        return sid, followups

    @staticmethod
    def _logs_filter(value: Any) -> Pubkey | None:
        if value in ("all", "allWithVotes"):
            return None
        mentions = value.get("mentions") if isinstance(value, dict) else None
        if not isinstance(mentions, list) or len(mentions) != 1:
            raise invalid_params('logsSubscribe takes "all" or {"mentions": [one address]}')
        return pubkey_param(mentions[0])

    def _unsubscribe(self, conn: Connection, kind: str, sid: Any) -> bool:
        entry = self._by_id.get(sid) if isinstance(sid, int) and not isinstance(sid, bool) else None
        if entry is None or entry[1] is not conn or entry[0][0] != kind:
            raise RpcError(-32602, "Invalid subscription id.")
        self._remove(sid)
        return True

    def _remove(self, sid: int) -> None:
        source_key, _ = self._by_id.pop(sid)
        source = self._sources.get(source_key)
        if source is not None:
            source.subscribers.pop(sid, None)
            if not source.subscribers:
                del self._sources[source_key]

    def drop(self, conn: Connection) -> None:
        """Forget every subscription of a closed connection."""
        for sid in [sid for sid, (_, c) in self._by_id.items() if c is conn]:
            self._remove(sid)

    # -- events -----------------------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        if not self._sources:
            return
        if isinstance(event, SlotAdvanced):
            info = {"parent": event.parent, "root": self.chain.root, "slot": event.slot}
            self._broadcast(self._of("slot"), _notification("slotNotification", info))
        elif isinstance(event, AccountsChanged):
            self._accounts(event.slot, event.accounts, finalized=False)
        elif isinstance(event, SignatureLanded):
            self._signatures([(bytes(event.signature), event.slot, event.err)], finalized=False)
            self._logs([(event.signature, event.slot, event.record, event.addresses)], finalized=False)
        elif isinstance(event, Finalized):
            self._accounts(event.slot, event.accounts, finalized=True)
            self._signatures(
                [(t.signature, t.slot, t.record["err"]) for t in event.transactions], finalized=True
            )
            self._logs(
                [
                    (Signature.from_bytes(t.signature), t.slot, t.record, t.addresses)
                    for t in event.transactions
                ],
                finalized=True,
            )
            self._broadcast(self._of("root"), _notification("rootNotification", event.slot))

    def _of(self, kind: str, finalized: bool | None = None) -> list[Source]:
        return [
            s
            for s in self._sources.values()
            if s.kind == kind and (finalized is None or s.finalized == finalized)
        ]

    @staticmethod
    def _broadcast(sources: Iterable[Source], build: Callable[[int], str]) -> None:
        for source in sources:
            for sid, conn in list(source.subscribers.items()):
                conn.send(build(sid))

    def _accounts(self, slot: int, accounts: dict[Pubkey, Account | None], *, finalized: bool) -> None:
        for source in self._of("account", finalized):
            if source.key in accounts:
                value = encode_account(
                    accounts[source.key] or CLOSED_ACCOUNT, source.encoding, None, self._decimals
                )
                self._broadcast([source], _notification("accountNotification", _context(slot, value)))
        for source in self._of("program", finalized):
            for key, account in accounts.items():
                if account is not None and account.owner == source.key and source.keep(bytes(account.data)):
                    value = {
                        "pubkey": str(key),
                        "account": encode_account(account, source.encoding, None, self._decimals),
                    }
                    self._broadcast([source], _notification("programNotification", _context(slot, value)))

    def _signatures(self, landed: list[tuple[bytes, int, Any]], *, finalized: bool) -> None:
        waiting = {s.key: s for s in self._of("signature", finalized)}
        for signature, slot, err in landed:
            source = waiting.pop(signature, None)
            if source is not None:
                for conn, text in self._signature_done(source, slot, err):
                    conn.send(text)

    def _signature_done(self, source: Source, slot: int, err: Any) -> list[tuple[Connection, str]]:
        """End every subscription of ``source``; the notifications to send, to whom."""
        build = _notification("signatureNotification", _context(slot, {"err": err}))
        done = []
        for sid, conn in list(source.subscribers.items()):
            done.append((conn, build(sid)))
            self._remove(sid)
        return done

    def _logs(
        self, landed: list[tuple[Signature, int, dict[str, Any], tuple[bytes, ...]]], *, finalized: bool
    ) -> None:
        sources = self._of("logs", finalized)
        if not sources:
            return
        for signature, slot, record, addresses in landed:
            value = {"signature": str(signature), "err": record["err"], "logs": record["logs"]}
            build = _notification("logsNotification", _context(slot, value))
            self._broadcast([s for s in sources if s.key is None or bytes(s.key) in addresses], build)

    def _decimals(self, mint: Pubkey) -> int | None:
        return self.chain.decimals(mint)


def _context(slot: int, value: Any) -> dict[str, Any]:
    return {"context": {"slot": slot}, "value": value}
