"""Retries with jittered backoff (1-30 s) on an injected clock: no test waits for a delay."""

from __future__ import annotations

import random
import socket
from typing import Any

import pytest

from nosana_node.chain.failures import RpcRequestError, RpcUnavailable
from nosana_node.chain.retry import Backoff
from nosana_node.chain.rpc import RpcClient
from nosana_node.clock import ManualClock
from tests.chain.conftest import Served
from tests.faultproxy import FaultPlan, FaultProxy


class Sleeper:
    """Sleeps recorded and applied to a manual clock: time moves only when a retry waits."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_delays_double_from_one_to_thirty_seconds_with_jitter() -> None:
    backoff = Backoff(rng=random.Random(5))
    delays = [d for d, _ in zip(backoff.delays(), range(12), strict=False)]
    steps = [min(30.0, 2.0**n) for n in range(12)]
    assert all(max(1.0, s / 2) <= d <= s for d, s in zip(delays, steps, strict=True))
    assert delays[0] == 1.0 and max(delays) <= 30.0 and delays[-1] >= 15.0
    again = [d for d, _ in zip(Backoff(rng=random.Random(6)).delays(), range(12), strict=False)]
    assert again != delays  # jittered: two nodes do not retry in step


def test_an_endpoint_that_never_answers_is_given_up_after_the_budget() -> None:
    sleep = Sleeper()
    url = _dead_url()
    rpc = RpcClient(url, backoff=Backoff(budget=120, rng=random.Random(1)), clock=sleep.clock, sleep=sleep)
    with rpc, pytest.raises(RpcUnavailable) as caught:
        rpc.call("getSlot")
    message = str(caught.value)
    assert message.startswith(f"no Solana JSON-RPC endpoint answers at {url} (ConnectError")
    assert f"gave up after {len(sleep.sleeps) + 1} tries" in message and "\n" not in message
    assert all(1.0 <= d <= 30.0 for d in sleep.sleeps) and sum(sleep.sleeps) <= 120
    assert len(sleep.sleeps) >= 5 and rpc.requests == len(sleep.sleeps) + 1


def test_transient_failures_are_retried_until_the_endpoint_answers(served: Served) -> None:
    answers = iter(["drop-before", "http-503", "node-behind", "drop-after"])

    def rule(method: str, params: list[Any]) -> str | None:
        return next(answers, None) if method == "getSlot" else None

    sleep = Sleeper()
    with FaultProxy(served.rpc_url, served.ws_url, FaultPlan(), rule) as proxy:
        rpc = RpcClient(proxy.rpc_url, backoff=Backoff(rng=random.Random(2)), clock=sleep.clock, sleep=sleep)
        with rpc:
            assert isinstance(rpc.call("getSlot"), int)
    assert len(sleep.sleeps) == 4 and 1.0 <= sleep.sleeps[0] <= sleep.sleeps[0] + sleep.sleeps[3] <= 12


def test_a_request_the_endpoint_refuses_is_not_retried(served: Served) -> None:
    sleep = Sleeper()
    rpc = RpcClient(served.rpc_url, backoff=Backoff(), clock=sleep.clock, sleep=sleep)
    with rpc, pytest.raises(RpcRequestError) as caught:
        rpc.call("getAccountInfo", "not-an-address")
    assert caught.value.code == -32602 and sleep.sleeps == [] and rpc.requests == 1
    assert str(caught.value).startswith("getAccountInfo failed: ")
