"""Host firewall rules that keep job containers away from the host's services.

Docker's bridge networks route a container's packets for the host's own addresses (the gateway
address, the host's LAN address, other bridges' gateways: every address of the host) to the
host's ``INPUT`` chain, where any service listening on ``0.0.0.0`` answers. For the node's own
network, rules in chains of the node's own close that path:

- ``NOSANA-JOBS-IN`` (jumped to from ``INPUT`` for packets coming in on the node's bridge, IPv4
  and IPv6): replies to connections the host opened pass; everything else is rejected;
- ``NOSANA-JOBS-FWD`` (jumped to from ``DOCKER-USER``, the chain Docker keeps for its users and
  evaluates before its own): connections whose destination was rewritten (``DNAT``: the host's
  published ports of other containers) and link-local destinations (``169.254.0.0/16``: a cloud
  provider's metadata service) are rejected.

Rules: every rule names the node's bridge interface, nothing else is touched; each rule is
added only when it is missing (``-C`` first) and a chain's content is rewritten only when it
differs, so applying them any number of times, from several runners at once, leaves one copy.
The ``iptables`` binary on ``PATH`` is used, the one ``dockerd`` uses (nf_tables or legacy).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from nosana_node.errors import NosanaError

INPUT_CHAIN = "NOSANA-JOBS-IN"
FORWARD_CHAIN = "NOSANA-JOBS-FWD"
LINK_LOCAL = "169.254.0.0/16"
TIMEOUT = 30.0


class FirewallError(NosanaError):
    """The host firewall could not be set up; the message says what to do."""


class Firewall(Protocol):
    """Keeps containers on a bridge interface away from the host's services."""

    def isolate(self, interface: str) -> None:
        """Make sure the rules for ``interface`` are in place (idempotent)."""

    def rules(self, interface: str) -> list[str]:
        """The rules in place for ``interface``, as ``iptables -S`` lines (for checks and docs)."""


class IptablesFirewall:
    """:class:`Firewall` with ``iptables`` / ``ip6tables`` (root, or CAP_NET_ADMIN)."""

    def __init__(self, lock_path: Path | None = None) -> None:
        self._lock_path = lock_path or Path(tempfile.gettempdir()) / "nosana-node-firewall.lock"

    def isolate(self, interface: str) -> None:
        tools = self._tools()
        with self._locked():
            for tool in tools:
                family6 = tool.endswith("ip6tables")
                self._chain(tool, INPUT_CHAIN, _input_rules(family6))
                self._jump(tool, "INPUT", ("-i", interface, "-j", INPUT_CHAIN))
                if not family6 and self._has_chain(tool, "DOCKER-USER"):
                    self._chain(tool, FORWARD_CHAIN, _forward_rules())
                    self._jump(tool, "DOCKER-USER", ("-i", interface, "-j", FORWARD_CHAIN))

    def rules(self, interface: str) -> list[str]:
        lines: list[str] = []
        for tool in self._tools():
            for chain in ("INPUT", "DOCKER-USER", INPUT_CHAIN, FORWARD_CHAIN):
                if not self._has_chain(tool, chain):
                    continue
                ours = chain.startswith("NOSANA")
                lines += [
                    f"{Path(tool).name} {line}"
                    for line in self._run(tool, "-S", chain).splitlines()
                    if line.startswith("-A ") and (ours or f"-i {interface} " in line)
                ]
        return lines

    # -- iptables ----------------------------------------------------------------------------------

    def _tools(self) -> list[str]:
        tool = shutil.which("iptables")
        if tool is None:
            raise FirewallError(
                "the job network needs iptables, which is missing: install Debian's iptables "
                "(`bash scripts/ensure-iptables.sh`), or set :docker :network to bridge or none"
            )
        if os.geteuid() != 0:
            raise FirewallError(
                "the job network needs root to set its firewall rules (iptables): run the node as "
                "root, or set :docker :network to none (no network) or bridge (jobs can reach "
                "the host's services)"
            )
        six = shutil.which("ip6tables")
        return [tool, six] if six is not None and self._has_chain(six, "INPUT") else [tool]

    def _run(self, tool: str, *args: str) -> str:
        try:
            proc = subprocess.run(
                [tool, "-w", "10", *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirewallError(f"{Path(tool).name} {' '.join(args)}: {exc}") from None
        if proc.returncode != 0:
            reason = " ".join(line for line in proc.stderr.splitlines() if "legacy tables" not in line)
            raise FirewallError(f"{Path(tool).name} {' '.join(args)} failed: {reason.strip()}")
        return proc.stdout

    def _has_chain(self, tool: str, chain: str) -> bool:
        try:
            subprocess.run([tool, "-w", "10", "-S", chain], capture_output=True, timeout=TIMEOUT, check=True)
        except subprocess.CalledProcessError:
            return False
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirewallError(f"{Path(tool).name} -S {chain}: {exc}") from None
        return True

    def _chain(self, tool: str, chain: str, rules: Sequence[tuple[str, ...]]) -> None:
        """Create ``chain`` when missing and make its content exactly ``rules``."""
        if not self._has_chain(tool, chain):
            self._run(tool, "-N", chain)
        wanted = [f"-A {chain} {' '.join(rule)}" for rule in rules]
        current = [line for line in self._run(tool, "-S", chain).splitlines() if line.startswith("-A ")]
        if [_normal(line) for line in current] == [_normal(line) for line in wanted]:
            return
        self._run(tool, "-F", chain)
        for rule in rules:
            self._run(tool, "-A", chain, *rule)

    def _jump(self, tool: str, chain: str, spec: tuple[str, ...]) -> None:
        """Put ``spec`` first in ``chain`` unless it is already there."""
        proc = subprocess.run(
            [tool, "-w", "10", "-C", chain, *spec], capture_output=True, timeout=TIMEOUT, check=False
        )
        if proc.returncode != 0:
            self._run(tool, "-I", chain, "1", *spec)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _input_rules(family6: bool) -> list[tuple[str, ...]]:
    unreachable = "icmp6-port-unreachable" if family6 else "icmp-port-unreachable"
    reject = ("-j", "REJECT", "--reject-with", unreachable)
    return [
        ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"),
        reject,
    ]


def _forward_rules() -> list[tuple[str, ...]]:
    return [
        ("-m", "conntrack", "--ctstate", "DNAT", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"),
        ("-d", LINK_LOCAL, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"),
        ("-j", "RETURN"),
    ]


def _normal(line: str) -> str:
    """A rule as ``iptables -S`` prints it, with the variations of its printing removed."""
    return " ".join(line.replace("RELATED,ESTABLISHED", "ESTABLISHED,RELATED").split())
