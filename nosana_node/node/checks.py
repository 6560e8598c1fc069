"""Start-up checks: what the node needs before it joins a market, each with a one-line verdict.

:func:`run_checks` looks at the market (it exists: its price, timeout, minimum stake and access
key), SOL for fees and rent (``:node :min-sol``), the NOS token account (paid into on
``finish``; made when the node joins if missing), the stake account against the market's
minimum, the access NFT when the market requires one, the Docker engine (and removes containers
a dead node of this home left, and what job definitions left: the flows of jobs this node quit
and that ended on chain since are given up first, :mod:`.kept`), and free disk space under the
home (``:node :min-free-disk``).
A failed check says what to do; the node then stops with exit 2 before it joins anything
(:class:`ChecksFailed`). Chain reads that fail past the client's retries raise as they are.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nosana_node import units
from nosana_node.chain.accounts import MarketAccount
from nosana_node.chain.addresses import OPEN_ACCESS_KEY
from nosana_node.errors import ChainError, NosanaError, UserInputError
from nosana_node.node.parts import NodeParts
from nosana_node.units import duration, nos, sol, xnos

LAMPORTS = 10**9


@dataclass(frozen=True)
class CheckResult:
    """One check: passed (``ok``), or not with what to do (``advice``); ``warning`` marks a pass
    worth reading."""

    name: str
    ok: bool
    verdict: str
    advice: str = ""
    warning: bool = False

    @property
    def label(self) -> str:
        return "FAIL" if not self.ok else "warn" if self.warning else "ok"

    def line(self) -> str:
        tail = f" - {self.advice}" if self.advice and (not self.ok or self.warning) else ""
        return f"  {self.label:<5} {self.name:<12} {self.verdict}{tail}"

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "ok": self.ok,
            "warning": self.warning,
            "verdict": self.verdict,
            "advice": self.advice,
        }


class ChecksFailed(UserInputError):
    """One or more start-up checks failed (exit 2): nothing was joined."""

    def __init__(self, failed: list[CheckResult]) -> None:
        names = ", ".join(c.name for c in failed)
        super().__init__(
            f"{len(failed)} start-up check(s) failed ({names}); the node did not join the market"
        )
        self.failed = failed


def run_checks(parts: NodeParts) -> list[CheckResult]:
    """Every check, in order; the market's is first (the others read it)."""
    results = [check_market(parts)]
    account = _market_account(parts)
    checks: list[Callable[[], CheckResult]] = [
        lambda: check_sol(parts),
        lambda: check_nos_account(parts),
        lambda: check_stake(parts, account),
        lambda: check_access(parts, account),
        lambda: check_docker(parts),
        lambda: check_disk(parts),
    ]
    if account is None:
        checks = checks[:2] + checks[4:]
    results.extend(check() for check in checks)
    return results


def require(results: list[CheckResult]) -> None:
    """Raise :class:`ChecksFailed` if any check failed."""
    failed = [r for r in results if not r.ok]
    if failed:
        raise ChecksFailed(failed)


def _market_account(parts: NodeParts) -> MarketAccount | None:
    try:
        return parts.chain.market(parts.market)
    except ChainError as exc:
        if getattr(exc, "transient", False):
            raise
        return None


def check_market(parts: NodeParts) -> CheckResult:
    endpoint = parts.chain.endpoint
    name = endpoint.market_name(parts.market)
    shown = f"{parts.market}" + (f" ({name})" if name else "")
    try:
        m = parts.chain.market(parts.market)
    except ChainError as exc:
        if getattr(exc, "transient", False):
            raise
        return CheckResult(
            "market", False, f"{shown}: {exc}", f"check --market / :market (the {endpoint.network} network)"
        )
    queued = len(m.queue) if m.queue_type == 1 else 0
    waiting = len(m.queue) if m.queue_type == 0 else 0
    verdict = (
        f"{shown}: price {nos(m.job_price)}/s, timeout {duration(m.job_timeout)}, "
        f"{queued} node(s) queued, {waiting} job(s) waiting"
    )
    return CheckResult("market", True, verdict)


def check_sol(parts: NodeParts) -> CheckResult:
    lamports = parts.chain.sol_balance()
    least = int(parts.settings.min_sol * LAMPORTS)
    verdict = f"{sol(lamports)} (at least {sol(least)} for fees and rent)"
    if lamports >= least:
        return CheckResult("SOL", True, verdict)
    advice = f"send SOL to {parts.wallet}"
    if parts.network == "localnet":
        advice += f" (nosana-node localnet airdrop {parts.wallet} --sol 1)"
    return CheckResult("SOL", False, verdict, advice)


def check_nos_account(parts: NodeParts) -> CheckResult:
    balance = parts.chain.nos_balance()
    if balance is None:
        return CheckResult(
            "NOS account",
            True,
            "none yet",
            "it is made when the node joins (about 0.002 SOL); payments go into it",
            warning=True,
        )
    return CheckResult("NOS account", True, f"{nos(balance)} in {parts.chain.nos_account()}")


def check_stake(parts: NodeParts, market: MarketAccount | None) -> CheckResult:
    stake = parts.chain.stake()
    least = market.node_xnos_minimum if market is not None else 0
    if stake is None:
        return CheckResult(
            "stake",
            False,
            f"no stake account for {parts.wallet} (market minimum {xnos(least)})",
            "stake NOS with the Nosana staking program; every market checks the stake account",
        )
    if stake.authority != parts.wallet:
        return CheckResult(
            "stake", False, f"the stake account's authority is {stake.authority}", "stake from this wallet"
        )
    verdict = f"{xnos(stake.xnos)} (market minimum {xnos(least)})"
    if stake.xnos < least:
        return CheckResult(
            "stake", False, verdict, f"stake {xnos(least - stake.xnos)} more, or join another market"
        )
    if stake.time_unstake:
        return CheckResult("stake", True, verdict, "the stake is being unstaked", warning=True)
    return CheckResult("stake", True, verdict)


def check_access(parts: NodeParts, market: MarketAccount | None) -> CheckResult:
    from nosana_node.chain.access import find_access_nft

    if market is None or market.node_access_key == OPEN_ACCESS_KEY:
        return CheckResult("access key", True, "open market: no access NFT needed")
    nft = find_access_nft(parts.chain.rpc, parts.wallet, market.node_access_key)
    if nft is None:
        return CheckResult(
            "access key",
            False,
            f"the market admits holders of an NFT of collection {market.node_access_key} only",
            f"get one into {parts.wallet}, or join an open market",
        )
    return CheckResult("access key", True, f"access NFT {nft.mint}")


def check_docker(parts: NodeParts) -> CheckResult:
    from nosana_node.docker import labels
    from nosana_node.docker.engine import connect
    from nosana_node.docker.leftovers import sweep_job_leftovers
    from nosana_node.node.kept import abandon_ended

    settings = parts.runner.settings
    where = settings.docker_url or "the local socket"
    ended = abandon_ended(parts)  # their leftovers go in this sweep
    try:
        api = connect(settings.docker_url, settings.docker_timeout)
        try:
            version = api.version().get("Version", "?")
            swept = labels.sweep_orphans(api, parts.runner.store.store_id)
            leftovers = sweep_job_leftovers(api, parts.runner.store)
        finally:
            api.close()
    except NosanaError as exc:
        return CheckResult("Docker", False, str(exc), "start the engine, or set :docker :url")
    except Exception as exc:  # the docker SDK's own errors (ping failed midway)
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        return CheckResult("Docker", False, f"the engine at {where} fails: {reason}", "check the engine")
    extra = f"; removed {len(swept)} container(s) left by a node that is gone" if swept else ""
    if ended:
        extra += f"; gave up {len(ended)} flow(s) of jobs that ended on chain after this node quit them"
    extra += "".join(f"; {line}" for line in leftovers.lines())
    return CheckResult("Docker", True, f"engine {version} at {where}{extra}")


def check_disk(parts: NodeParts) -> CheckResult:
    home = Path(parts.config.home)
    free = shutil.disk_usage(home).free
    least = parts.settings.min_free_disk
    verdict = f"{units.approx_size(free)} free under {home} (at least {units.approx_size(least)})"
    if free >= least:
        return CheckResult("disk", True, verdict)
    return CheckResult("disk", False, verdict, "free some space, or set :home elsewhere")
