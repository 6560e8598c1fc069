"""Faults between the client and the local market: dropped and delayed requests, closed sockets,
lost answers, expired blockhashes, RPC errors - each job still lands exactly once."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_node.chain.accounts import JobState
from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.instructions import INSTRUCTIONS
from nosana_node.chain.retry import Backoff
from tests.chain.conftest import FAST, Served, digest
from tests.faultproxy import FaultPlan, FaultProxy

#: quick retries: the faults are many, the test should not wait for 1-30 s delays
QUICK = replace(FAST, backoff=Backoff(first=0.02, cap=0.1, budget=30.0))
BY_DISCRIMINATOR = {spec.discriminator: name for name, spec in INSTRUCTIONS.items()}


class Landed:
    """Every jobs-program instruction that lands on the chain, by name and job account."""

    def __init__(self, served: Served) -> None:
        self.chain = served.net.chain
        self.program = self.chain.program_id
        self.signatures: list[Any] = []
        self._lock = threading.Lock()
        self._undo = self.chain.subscribe(self._event)

    def _event(self, event: Any) -> None:
        if type(event).__name__ == "SignatureLanded" and event.err is None:
            with self._lock:
                self.signatures.append(event.signature)

    def count(self) -> Counter[tuple[str, str]]:
        """(instruction, first account) -> times landed."""
        found: Counter[tuple[str, str]] = Counter()
        with self._lock:
            signatures = list(self.signatures)
        for signature in signatures:
            record = self.chain.transaction(signature)
            tx = VersionedTransaction.from_bytes(base64.b64decode(record["tx"]))
            keys = tx.message.account_keys
            for ix in tx.message.instructions:
                if keys[ix.program_id_index] == self.program:
                    name = BY_DISCRIMINATOR.get(bytes(ix.data[:8]), "?")
                    found[(name, str(keys[ix.accounts[0]]))] += 1
        return found

    def close(self) -> None:
        self._undo()


@pytest.fixture
def landed(served: Served) -> Iterator[Landed]:
    watcher = Landed(served)
    yield watcher
    watcher.close()


@pytest.fixture
def proxied(served: Served, endpoint: Endpoint) -> Iterator[Callable[..., tuple[FaultProxy, Endpoint]]]:
    proxies: list[FaultProxy] = []

    def make(plan: FaultPlan, rule: Any = None) -> tuple[FaultProxy, Endpoint]:
        proxy = FaultProxy(served.rpc_url, served.ws_url, plan, rule).start()
        proxies.append(proxy)
        return proxy, replace(endpoint, rpc_url=proxy.rpc_url, ws_url=proxy.ws_url)

    yield make
    for proxy in proxies:
        proxy.stop()


def test_list_work_finish_land_exactly_once_through_a_faulty_proxy(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]],
    connect: Callable[..., ChainClient],
    landed: Landed,
) -> None:
    proxy, faulty = proxied(FaultPlan(drop=0.2, delay=0.2, ws_close=0.2, seed=7))
    client, node = connect("client-1", QUICK, faulty), connect("node-1", QUICK, faulty)
    market = faulty.market("priced")
    jobs = []
    for i in range(4):
        posted = client.list_job(market, digest(f"job {i}"), 600)
        assert node.work(market).job == posted.job
        node.finish(posted.job, digest(f"result {i}"))
        jobs.append(posted.job)

    counts = landed.count()
    for i, job in enumerate(jobs):
        done = client.job(job)
        assert done.state == JobState.DONE and done.ipfs_result == digest(f"result {i}")
        assert counts[("list", str(job))] == 1 and counts[("finish", str(job))] == 1
    assert sum(n for (name, _), n in counts.items() if name == "work") == 4
    # the faults did happen: lost requests before and after the chain saw them, closed sockets
    assert proxy.stats["dropped-before"] > 0 and proxy.stats["dropped-after"] > 0
    assert proxy.stats["delayed"] > 0 and proxy.stats["ws-closed"] > 0


def test_a_lost_answer_to_send_transaction_does_not_send_twice(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient], landed: Landed
) -> None:
    sends: list[str] = []

    def rule(method: str, params: list[Any]) -> str | None:
        if method == "sendTransaction":
            sends.append(params[0])
            return "drop-after" if len(sends) == 1 else "pass"  # it lands, the answer is lost
        return None

    _, faulty = proxied(FaultPlan(), rule)
    client = connect("client-1", QUICK, faulty)
    posted = client.list_job(faulty.market("default"), digest("job"), 600)
    assert sends[0] == sends[1]  # the same bytes again, answered "already processed"
    assert landed.count()[("list", str(posted.job))] == 1 and client.job(posted.job) is not None


def test_an_expired_blockhash_is_rebuilt_and_sent_again(
    served: Served,
    proxied: Callable[..., tuple[FaultProxy, Endpoint]],
    connect: Callable[..., ChainClient],
    landed: Landed,
) -> None:
    sends: list[str] = []

    def rule(method: str, params: list[Any]) -> str | None:
        if method == "sendTransaction":
            sends.append(params[0])
            if len(sends) == 1:  # lost on the way while the blockhash expires
                served.net.chain.skip_slots(200)
                return "drop-before"
        return None

    _, faulty = proxied(FaultPlan(), rule)
    client = connect("client-1", QUICK, faulty)
    posted = client.list_job(faulty.market("default"), digest("job"), 600)
    assert len(sends) == 3 and sends[0] == sends[1] != sends[2]  # resent, refused, rebuilt
    assert landed.count()[("list", str(posted.job))] == 1


def test_a_transaction_that_landed_before_its_blockhash_expired_is_not_rebuilt(
    served: Served,
    proxied: Callable[..., tuple[FaultProxy, Endpoint]],
    connect: Callable[..., ChainClient],
    landed: Landed,
) -> None:
    sends: list[str] = []

    def rule(method: str, params: list[Any]) -> str | None:
        if method == "sendTransaction":
            sends.append(params[0])
            if len(sends) == 1:
                return "drop-after"  # landed; the answer is lost
            served.net.chain.skip_slots(200)  # the resend finds the blockhash expired
        return None

    _, faulty = proxied(FaultPlan(), rule)
    client = connect("client-1", QUICK, faulty)
    posted = client.list_job(faulty.market("default"), digest("job"), 600)
    assert len(sends) == 2 and landed.count()[("list", str(posted.job))] == 1


def test_rpc_errors_and_busy_answers_are_retried(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    seen: Counter[str] = Counter()

    def rule(method: str, params: list[Any]) -> str | None:
        if method == "getAccountInfo":
            seen[method] += 1
            return {1: "http-503", 2: "node-behind", 3: "drop-before"}.get(seen[method])
        return None

    proxy, faulty = proxied(FaultPlan(), rule)
    client = connect("client-1", QUICK, faulty)
    assert client.market(faulty.market("default")).job_price == 0
    assert seen["getAccountInfo"] == 4
    assert proxy.stats["http-503"] == proxy.stats["node-behind"] == proxy.stats["dropped-before"] == 1


def test_confirmation_comes_by_signature_subscription_and_by_polling_without_a_socket(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    proxy, faulty = proxied(FaultPlan())
    client = connect("client-1", QUICK, faulty)
    client.list_job(faulty.market("default"), digest("one"), 600)
    assert proxy.stats["requests:getSignatureStatuses"] == 0 and proxy.stats["ws-down"] >= 2

    refusing, no_socket = proxied(FaultPlan(ws_refuse=1.0))
    polled = connect("client-1", QUICK, no_socket)
    posted = polled.list_job(no_socket.market("default"), digest("two"), 600)
    assert refusing.stats["ws-refused"] >= 1 and refusing.stats["requests:getSignatureStatuses"] >= 1
    assert polled.job(posted.job) is not None


def test_priority_fee_follows_recent_fees_up_to_the_cap(
    served: Served, proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    fees = {"now": [0] * 50 + [5_000] * 100}  # a congested cluster (the local market reports 0)
    asked: list[list[str]] = []

    def rule(method: str, params: list[Any]) -> Any:
        if method == "getRecentPrioritizationFees":
            asked.append(params[0])
            return ("answer", [{"slot": i, "prioritizationFee": f} for i, f in enumerate(fees["now"])])
        return None

    def price_paid(signature: str) -> int | None:
        tx = served.result("getTransaction", signature, {"encoding": "json", "commitment": "confirmed"})
        keys = tx["transaction"]["message"]["accountKeys"]
        for ix in tx["transaction"]["message"]["instructions"]:
            data = base58_decode(ix["data"])
            if keys[ix["programIdIndex"]] == "ComputeBudget111111111111111111111111111111" and data[0] == 3:
                return int.from_bytes(data[1:9], "little")
        return None

    _, faulty = proxied(FaultPlan(), rule)
    options = replace(QUICK, send=replace(QUICK.send, priority_fee_cap=2_000))
    client = connect("client-1", options, faulty)
    market = faulty.market("default")
    capped = client.list_job(market, digest("one"), 600)
    assert price_paid(capped.signature) == 2_000  # the 75th percentile is 5000: capped
    assert str(market) in asked[0] and str(client.wallet) in asked[0]  # the accounts it writes
    fees["now"] = [0] * 100 + [1_500] * 50
    assert price_paid(client.list_job(market, digest("two"), 600).signature) == 1_500
    fees["now"] = [0] * 150
    assert price_paid(client.list_job(market, digest("three"), 600).signature) is None  # no budget ix


def base58_decode(text: str) -> bytes:
    import based58

    return based58.b58decode(text.encode())


def test_watches_see_assignments_and_job_changes_through_closing_sockets(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    proxy, faulty = proxied(FaultPlan(ws_close=0.5, seed=3))
    client, node = connect("client-1", QUICK, faulty), connect("node-1", QUICK, faulty)
    market = faulty.market("default")
    runs: list[tuple[Pubkey, Pubkey]] = []
    got_run = threading.Condition()

    def on_run(address: Pubkey, run: Any) -> None:
        with got_run:
            runs.append((address, run.job))
            got_run.notify_all()

    watch = node.watch_runs(on_run)
    try:
        for i in range(3):
            assert node.work(market).job is None  # queued: no job waits
            posted = client.list_job(market, digest(f"job {i}"), 600)
            with got_run:
                assert got_run.wait_for(lambda n=i: len(runs) == n + 1, timeout=20), proxy.stats
            assert runs[-1][1] == posted.job
            node.finish(posted.job, digest("result"))
            proxy.close_websockets()
    finally:
        watch.close()
    assert len({address for address, _ in runs}) == 3  # each run reported once


def test_finish_reports_each_signature_before_sending_it(
    served: Served,
    proxied: Callable[..., tuple[FaultProxy, Endpoint]],
    connect: Callable[..., ChainClient],
    landed: Landed,
) -> None:
    finishes: list[str] = []

    def rule(method: str, params: list[Any]) -> str | None:
        if method == "sendTransaction" and armed:
            finishes.append(params[0])
            if len(finishes) == 1:  # the first finish is lost while its blockhash expires
                served.net.chain.skip_slots(200)
                return "drop-before"
        return None

    armed = False
    _, faulty = proxied(FaultPlan(), rule)
    client, node = connect("client-1", QUICK, faulty), connect("node-1", QUICK, faulty)
    market = faulty.market("default")
    posted = client.list_job(market, digest("job"), 600)
    node.work(market)
    signed: list[str] = []
    armed = True
    signature = node.finish(posted.job, digest("result"), on_signed=lambda tx: signed.append(tx.signature))
    assert len(signed) == 2 and signed[-1] == signature  # rebuilt once, each reported before sending
    assert node.signature_status(signed[0]) is None and node.signature_status(signature)["err"] is None
    assert landed.count()[("finish", str(posted.job))] == 1


def test_without_a_socket_watches_fall_back_to_the_slow_poll(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    proxy, no_socket = proxied(FaultPlan(ws_refuse=1.0))
    client, node = connect("client-1", QUICK, no_socket), connect("node-1", QUICK, no_socket)
    market = no_socket.market("default")
    changes: list[Any] = []
    runs: list[Pubkey] = []
    seen = threading.Condition()

    def record(into: list[Any]) -> Callable[..., None]:
        def callback(*args: Any) -> None:
            with seen:
                into.append(args[-1] if len(args) == 1 else args[0])
                seen.notify_all()

        return callback

    assert node.work(market).job is None
    posted = client.list_job(market, digest("job"), 600)
    job_watch = client.watch_job(posted.job, record(changes))
    run_watch = node.watch_runs(record(runs))
    try:
        with seen:
            assert seen.wait_for(lambda: runs and changes, timeout=20)
        assert changes[-1].timeout == 600 and node.run(runs[0]).job == posted.job
        client.extend(posted.job, 900)
        with seen:
            assert seen.wait_for(lambda: changes[-1].timeout == 900, timeout=20)
        node.finish(posted.job, digest("result"))
        with seen:
            assert seen.wait_for(lambda: changes[-1].state == JobState.DONE, timeout=20)
        assert not job_watch.subscribed and job_watch.polls >= 3 and proxy.stats["ws-refused"] >= 1
    finally:
        job_watch.close()
        run_watch.close()
    assert len(runs) == 1


def test_a_watched_job_that_is_closed_reports_none(
    proxied: Callable[..., tuple[FaultProxy, Endpoint]], connect: Callable[..., ChainClient]
) -> None:
    _, faulty = proxied(FaultPlan())
    client = connect("client-1", QUICK, faulty)
    posted = client.list_job(faulty.market("default"), digest("job"), 600)
    changes: list[Any] = []
    seen = threading.Condition()

    def on_change(job: Any) -> None:
        with seen:
            changes.append(job)
            seen.notify_all()

    watch = client.watch_job(posted.job, on_change)
    try:
        with seen:
            assert seen.wait_for(lambda: changes and watch.subscribed, timeout=20)
        client.delist(posted.job)
        with seen:
            assert seen.wait_for(lambda: changes[-1] is None, timeout=20)
    finally:
        watch.close()
