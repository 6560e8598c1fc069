"""WebSocket subscriptions (Solana PubSub): who hears which chain event.

Supported: ``accountSubscribe``, ``programSubscribe`` (with filters), ``signatureSubscribe``,
``slotSubscribe``, ``logsSubscribe`` (``all`` or ``{"mentions": [address]}``) and their
unsubscribes. Notifications have Solana's shapes; a signature subscription ends after its one
notification, and one for a transaction that has already landed is answered at once.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from solders.pubkey import Pubkey

from nosana_node.localnet.chain import (
    AccountsChanged,
    Event,
    LocalChain,
    SignatureLanded,
    SlotAdvanced,
)
from nosana_node.localnet.encoding import (
    CLOSED_ACCOUNT,
    RpcError,
    account_filter,
    encode_account,
    encode_transaction,
    invalid_params,
    mint_decimals,
    pubkey_param,
    signature_param,
)

KINDS = ("account", "program", "signature", "slot", "logs")


class Connection(Protocol):
    """A WebSocket client: anything that queues a JSON object for sending."""

    def send(self, message: dict[str, Any]) -> None: ...


@dataclass
class Subscription:
    id: int
    kind: str
    conn: Connection
    key: Any = None  # Pubkey (account, program), bytes (signature), list of Pubkey (logs), None
    encoding: str = "base64"
    keep: Callable[[bytes], bool] = field(default=lambda data: True)


class Subscriptions:
    """The subscriptions of one server; :meth:`dispatch` runs on the server's event loop."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self._ids = itertools.count(1)
        self._all: dict[int, Subscription] = {}

    def __len__(self) -> int:
        return len(self._all)

    # -- requests ---------------------------------------------------------------------------------
    def handles(self, method: str) -> bool:
        kind = method.removesuffix("Subscribe").removesuffix("Unsubscribe")
        return kind in KINDS and method in (f"{kind}Subscribe", f"{kind}Unsubscribe")

    def request(self, conn: Connection, method: str, params: list[Any]) -> Any:
        """Answer a (un)subscribe request: the subscription id, or ``True``."""
        if method.endswith("Unsubscribe"):
            return self._unsubscribe(conn, method.removesuffix("Unsubscribe"), params)
        kind = method.removesuffix("Subscribe")
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        sub = Subscription(next(self._ids), kind, conn, encoding=config.get("encoding") or "base64")
        if kind in ("account", "program"):
            if not params:
                raise invalid_params("missing address")
            sub.key = pubkey_param(params[0])
            if kind == "program":
                sub.keep = account_filter(config.get("filters"))
        elif kind == "signature":
            if not params:
                raise invalid_params("missing signature")
            signature = signature_param(params[0])
            sub.key = bytes(signature)
            record = self.chain.transaction(signature)
            if record is not None:  # landed already: notify right after the id
                self._all[sub.id] = sub
                self._notify_signature(sub, record["slot"], record["err"])
                return sub.id
        elif kind == "logs":
            sub.key = self._logs_filter(params[0] if params else None)
        self._all[sub.id] = sub
        return sub.id

    @staticmethod
    def _logs_filter(value: Any) -> list[Pubkey] | None:
        if value in ("all", "allWithVotes"):
            return None
        mentions = value.get("mentions") if isinstance(value, dict) else None
        if not isinstance(mentions, list) or len(mentions) != 1:
            raise invalid_params('logsSubscribe takes "all" or {"mentions": [one address]}')
        return [pubkey_param(mentions[0])]

    def _unsubscribe(self, conn: Connection, kind: str, params: list[Any]) -> bool:
        sid = params[0] if params else None
        sub = self._all.get(sid) if isinstance(sid, int) else None
        if sub is None or sub.conn is not conn or sub.kind != kind:
            raise RpcError(-32602, "Invalid subscription id.")
        del self._all[sid]
        return True

    def drop(self, conn: Connection) -> None:
        """Forget every subscription of a closed connection."""
        for sid in [s.id for s in self._all.values() if s.conn is conn]:
            del self._all[sid]

    # -- events -----------------------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        if not self._all:
            return
        if isinstance(event, SlotAdvanced):
            for sub in self._of("slot"):
                slot_info = {"parent": event.parent, "root": event.parent, "slot": event.slot}
                self._send(sub, "slotNotification", slot_info, context=None)
        elif isinstance(event, AccountsChanged):
            self._accounts(event)
        elif isinstance(event, SignatureLanded):
            key = bytes(event.signature)
            for sub in self._of("signature"):
                if sub.key == key:
                    self._notify_signature(sub, event.slot, event.err)
            self._logs(event)

    def _of(self, kind: str) -> list[Subscription]:
        return [s for s in self._all.values() if s.kind == kind]

    def _accounts(self, event: AccountsChanged) -> None:
        decimals = self._decimals
        for sub in self._of("account"):
            if sub.key in event.accounts:
                account = event.accounts[sub.key] or CLOSED_ACCOUNT
                value = encode_account(account, sub.encoding, None, decimals)
                self._send(sub, "accountNotification", value, slot=event.slot)
        for sub in self._of("program"):
            for key, account in event.accounts.items():
                if account is not None and account.owner == sub.key and sub.keep(bytes(account.data)):
                    value = {
                        "pubkey": str(key),
                        "account": encode_account(account, sub.encoding, None, decimals),
                    }
                    self._send(sub, "programNotification", value, slot=event.slot)

    def _logs(self, event: SignatureLanded) -> None:
        subs = self._of("logs")
        if not subs:
            return
        record = self.chain.transaction(event.signature)
        if record is None:
            return
        mentioned: set[str] | None = None
        for sub in subs:
            if sub.key is not None:
                if mentioned is None:
                    raw = base64.b64decode(record["tx"])
                    mentioned = set(encode_transaction(raw, "json")["message"]["accountKeys"])
                if str(sub.key[0]) not in mentioned:
                    continue
            value = {"signature": str(event.signature), "err": event.err, "logs": record["logs"]}
            self._send(sub, "logsNotification", value, slot=event.slot)

    def _decimals(self, mint: Pubkey) -> int | None:
        return mint_decimals(self.chain.get_account(mint))

    def _notify_signature(self, sub: Subscription, slot: int, err: Any) -> None:
        self._send(sub, "signatureNotification", {"err": err}, slot=slot)
        self._all.pop(sub.id, None)

    def _send(
        self, sub: Subscription, method: str, value: Any, *, slot: int = 0, context: Any = True
    ) -> None:
        result = {"context": {"slot": slot}, "value": value} if context else value
        sub.conn.send(
            {"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": sub.id}}
        )
