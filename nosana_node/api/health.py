"""``GET /health``: the node's checks, each a verdict; 503 when one fails.

A :class:`Check` answers ``ok`` with a one-line verdict, or raises (the exception's one line is
the verdict). :class:`Health` runs every check in its own thread with a deadline (a check that
does not answer in time fails), at most once per ``ttl`` seconds whatever the number of
requests (callers during a run wait for that run): a stranger hammering ``/health`` costs the
node one round of checks per ``ttl``.

Checks: ``engine`` (the Docker engine answers a ping), ``rpc`` (the Solana endpoint answers
``getHealth``/``getSlot``), ``vault`` (the secret backend answers and accepts the node's
token; the built-in ``config`` backend always passes), ``disk`` (free space under the home).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nosana_node import units
from nosana_node.api.refresh import Refreshed


@dataclass(frozen=True)
class Verdict:
    """One check's outcome."""

    check: str
    ok: bool
    verdict: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "verdict": self.verdict,
            "seconds": round(self.seconds, 3),
        }


class Check(Protocol):
    """A named check: returns its verdict when it passes, raises when it fails."""

    name: str

    def __call__(self) -> str: ...


@dataclass
class FunctionCheck:
    """A check made of a function."""

    name: str
    probe: Callable[[], str]

    def __call__(self) -> str:
        return self.probe()


def engine_check(docker_url: str | None, timeout: float = 5.0) -> FunctionCheck:
    """The Docker engine answers ``/_ping`` and tells its version."""

    def probe() -> str:
        from nosana_node.docker.engine import connect

        api = connect(docker_url, timeout)
        try:
            api.ping()
            return f"engine {api.version().get('Version', '?')} at {docker_url or 'the local socket'}"
        finally:
            api.close()

    return FunctionCheck("engine", probe)


def rpc_check(call: Callable[..., Any], url: str) -> FunctionCheck:
    """The JSON-RPC endpoint answers (``call(method)`` sends one request without retries)."""

    def probe() -> str:
        slot = call("getSlot")
        return f"{url} at slot {slot}"

    return FunctionCheck("rpc", probe)


def vault_check(ping: Callable[[], str]) -> FunctionCheck:
    """The secret backend answers (``ping`` returns what it is)."""
    return FunctionCheck("vault", ping)


def disk_check(home: Path, least: int) -> FunctionCheck:
    """At least ``least`` bytes are free under ``home``."""

    def probe() -> str:
        free = shutil.disk_usage(home).free
        verdict = f"{units.approx_size(free)} free under {home} (at least {units.approx_size(least)})"
        if free < least:
            raise RuntimeError(verdict)
        return verdict

    return FunctionCheck("disk", probe)


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


class Health:
    """Runs the checks (see the module rules); :meth:`verdicts` is awaited in the event loop."""

    def __init__(self, checks: list[Check], *, ttl: float = 5.0, timeout: float = 10.0) -> None:
        self.checks = checks
        self.timeout = timeout
        # a check that hangs keeps its thread: twice as many threads as checks
        self._pool = ThreadPoolExecutor(max_workers=2 * max(1, len(checks)), thread_name_prefix="api-health")
        self._rounds: Refreshed[list[Verdict]] = Refreshed(self.run, ttl)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def verdicts(self) -> list[Verdict]:
        """The verdicts of the last round, or of a new one when it is older than ``ttl``."""
        return await self._rounds.get()

    def run(self) -> list[Verdict]:
        """One round: every check at once, each within ``timeout`` (blocking)."""
        start = time.monotonic()
        futures = [(check, self._pool.submit(check)) for check in self.checks]
        verdicts = []
        for check, future in futures:
            left = max(0.0, start + self.timeout - time.monotonic())
            try:
                verdicts.append(Verdict(check.name, True, str(future.result(left)), time.monotonic() - start))
            except FutureTimeout:
                future.cancel()
                verdicts.append(
                    Verdict(check.name, False, f"no answer within {self.timeout:g}s", self.timeout)
                )
            except Exception as exc:
                verdicts.append(Verdict(check.name, False, _line(exc), time.monotonic() - start))
        return verdicts
