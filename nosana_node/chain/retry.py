"""Retrying transient chain failures with jittered exponential backoff.

Delays grow from ``first`` (1 s) to ``cap`` (30 s), each drawn at random in the upper half of
its step (so that many nodes do not retry in step), for at most ``budget`` seconds in all. The
clock (:mod:`nosana_node.clock`) and the sleep are injectable so that tests never wait:
``retry_call(fn, backoff, clock=manual, sleep=manual.advance)``.

    backoff = Backoff(budget=120)
    value = retry_call(lambda: rpc_once("getSlot"), backoff, on_retry=log_it)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from nosana_node.chain.failures import ChainFailure
from nosana_node.clock import SYSTEM_CLOCK, Clock

T = TypeVar("T")


#: How a retry waits: ``time.sleep``, or a test's (``ManualClock.advance`` moves its clock).
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Backoff:
    """Retry delays: ``first`` doubling up to ``cap``, jittered, within ``budget`` seconds.

    ``budget`` 0 means no retry at all.
    """

    first: float = 1.0
    cap: float = 30.0
    budget: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delays(self) -> Iterator[float]:
        """Endless delays: the n-th is uniform in [step/2, step], step = min(cap, first * 2**n),
        never below ``first``."""
        n = 0
        while True:
            step = min(self.cap, self.first * 2**n)
            yield max(self.first, self.rng.uniform(step / 2, step))
            n = min(n + 1, 32)


NO_RETRY = Backoff(budget=0)


def retry_call(
    fn: Callable[[], T],
    backoff: Backoff,
    *,
    clock: Clock = SYSTEM_CLOCK,
    sleep: Sleep = time.sleep,
    on_retry: Callable[[ChainFailure, int, float], None] | None = None,
) -> T:
    """``fn()``, tried again after each transient :class:`ChainFailure` while the budget lasts.

    ``on_retry(failure, attempt, delay)`` is called before each wait. The last failure is
    raised as it is once the next wait would end past the budget.
    """
    start = clock.now()
    delays = backoff.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except ChainFailure as failure:
            if not failure.transient:
                raise
            delay = next(delays)
            if clock.now() + delay - start > backoff.budget:
                if attempt > 1:
                    failure.message = f"{failure.message}; gave up after {attempt} tries"
                    failure.args = (failure.message,)
                raise
            if on_retry is not None:
                on_retry(failure, attempt, delay)
            sleep(delay)
