"""What the local market reports ``finalized`` survives: SIGKILL at random points while clients
send, and a ledger that cannot be written (the market refuses transactions meanwhile, says so
once, and finalizes what it had confirmed once it can write again). Real processes throughout."""

from __future__ import annotations

import base64
import random
import resource
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from tests.localnet.conftest import run, wait_finalized
from tests.localnet.process import Market, market_process

SENDERS = ("client-1", "client-2", "node-1", "node-2")
CONFIRMED = {"commitment": "confirmed"}


def _call(http: httpx.Client, url: str, method: str, *params: object) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return http.post(url, json=body, timeout=30).json()


def _transfer(payer: Keypair, to: Pubkey, lamports: int, blockhash: str) -> str:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    tx = Transaction([payer], Message([ix], payer.pubkey()), Hash.from_string(blockhash))
    return base64.b64encode(bytes(tx)).decode()


@dataclass
class Traffic:
    """Clients sending transfers to fresh accounts while a watcher collects finalized ones."""

    market: Market
    sent: dict[str, tuple[str, int]] = field(default_factory=dict)  # signature -> (recipient, lamports)
    finalized: set[str] = field(default_factory=set)
    changed: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)

    def sender(self, name: str, seed: int) -> None:
        payer, rng = self.market.keypair(name), random.Random(seed)
        with httpx.Client() as http:
            while not self.stop.is_set():
                try:
                    blockhash = _call(http, self.market.rpc_url, "getLatestBlockhash", CONFIRMED)
                    recipient = Keypair().pubkey()
                    lamports = 1_000_000 + rng.randrange(1_000_000)
                    encoded = _transfer(payer, recipient, lamports, blockhash["result"]["value"]["blockhash"])
                    answer = _call(
                        http, self.market.rpc_url, "sendTransaction", encoded, {"encoding": "base64"}
                    )
                except (httpx.HTTPError, KeyError):
                    return  # the market was killed
                with self.changed:
                    self.sent[answer["result"]] = (str(recipient), lamports)
                    self.changed.notify_all()

    def watcher(self) -> None:
        with httpx.Client() as http:
            while not self.stop.is_set():
                with self.changed:
                    pending = [s for s in self.sent if s not in self.finalized][:256]
                if not pending:
                    with self.changed:
                        self.changed.wait(0.5)
                    continue
                try:
                    statuses = _call(http, self.market.rpc_url, "getSignatureStatuses", pending)["result"][
                        "value"
                    ]
                except (httpx.HTTPError, KeyError):
                    return
                with self.changed:
                    for signature, status in zip(pending, statuses, strict=True):
                        if status and status["confirmationStatus"] == "finalized":
                            self.finalized.add(signature)
                    self.changed.notify_all()

    def run_until(self, sends: int, timeout: float = 60) -> None:
        """Start the clients; return once ``sends`` transactions went out and at least one was
        reported finalized (the kill point)."""
        threads = [
            threading.Thread(target=self.sender, args=(name, i), daemon=True)
            for i, name in enumerate(SENDERS)
        ]
        threads.append(threading.Thread(target=self.watcher, daemon=True))
        for thread in threads:
            thread.start()
        with self.changed:
            reached = self.changed.wait_for(lambda: len(self.sent) >= sends and self.finalized, timeout)
        assert reached, f"only {len(self.sent)} sent, {len(self.finalized)} finalized"


def test_nothing_reported_finalized_is_lost_when_the_market_is_killed(tmp_path: Path) -> None:
    """Three times: clients send, the market is killed (SIGKILL) after a random number of
    transactions, and the next start still has everything it had reported finalized."""
    ledger = tmp_path / "ledger"
    rng = random.Random(12)
    kept: dict[str, tuple[str, int]] = {}
    for round_ in range(4):
        with market_process(ledger) as market:
            if kept:
                statuses = market.result("getSignatureStatuses", list(kept)[-256:])["value"]
                assert all(s is not None and s["confirmationStatus"] == "finalized" for s in statuses)
                for signature, (recipient, lamports) in kept.items():
                    assert market.result("getTransaction", signature) is not None, (round_, signature)
                    assert market.result("getBalance", recipient)["value"] == lamports, (round_, recipient)
            if round_ == 3:
                break
            traffic = Traffic(market)
            traffic.run_until(sends=rng.randrange(20, 150))
            with traffic.changed:
                market.proc.send_signal(signal.SIGKILL)  # while the clients keep sending
                finalized = {s: traffic.sent[s] for s in traffic.finalized}
            traffic.stop.set()
            market.proc.wait(timeout=30)
        assert finalized, round_
        kept.update(finalized)


def _send(market: Market, payer: Keypair) -> dict:
    blockhash = market.result("getLatestBlockhash", CONFIRMED)["value"]["blockhash"]
    encoded = _transfer(payer, Keypair().pubkey(), 2_000_000, blockhash)
    return market.raw("sendTransaction", encoded, {"encoding": "base64"})


def test_a_ledger_that_cannot_be_written_stops_transactions_until_it_can(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    with market_process(ledger) as market:
        payer = market.keypair("client-1")
        first = _send(market, payer)["result"]
        run(wait_finalized(market.ws_url, first))
        pid = market.proc.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))  # no file may grow: commits fail
        try:
            landed, refused = [], None  # accepted before the first failed commit was noticed
            for _ in range(200):
                answer = _send(market, payer)
                if "error" in answer:
                    refused = answer["error"]
                    break
                landed.append(answer["result"])
            assert refused is not None and refused["code"] == -32005
            assert "cannot write its ledger" in refused["message"]
            assert market.raw("getHealth")["error"]["code"] == -32005
            final = market.result("getSlot")
            slot = market.result("getSlot", CONFIRMED)
            run(_slots_pass(market.ws_url, 5))  # several slots of failed commits
            assert market.result("getSlot", CONFIRMED) >= slot + 5
            assert market.result("getSlot") == final  # nothing more became final
            if landed:
                statuses = market.result("getSignatureStatuses", landed)["value"]
                assert {s["confirmationStatus"] for s in statuses} == {"confirmed"}
            assert market.log().count("cannot write its ledger") == 1, market.log()
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        for signature in landed:  # committed once the disk takes writes again
            run(wait_finalized(market.ws_url, signature))
        accepted = None
        for _ in range(200):
            answer = _send(market, payer)
            if "result" in answer:
                accepted = answer["result"]
                break
        assert accepted is not None
        run(wait_finalized(market.ws_url, accepted))
        assert market.log().count("the ledger is written again") == 1
        assert "Traceback" not in market.log()
        assert market.result("getSlot") > final
        market.proc.send_signal(signal.SIGKILL)
        market.proc.wait(timeout=30)
    with market_process(ledger) as market:
        for signature in [*landed, accepted]:
            assert market.result("getTransaction", signature) is not None


async def _slots_pass(ws_url: str, count: int) -> None:
    """Wait for ``count`` slot notifications (slots keep coming while commits fail)."""
    import asyncio

    from solana.rpc.websocket_api import connect
    from solders.rpc.responses import SlotNotification

    async with connect(ws_url) as ws:
        await ws.slot_subscribe()
        seen = 0
        async with asyncio.timeout(30):
            while seen < count:
                seen += sum(isinstance(m, SlotNotification) for m in await ws.recv())
