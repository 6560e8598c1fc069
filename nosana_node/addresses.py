"""Which network addresses a stranger's job may make this host reach: public ones, and the
operator's named exceptions.

A market job names hosts the node connects to from its own host (a repository, a resource's
endpoint). Such a host must resolve to public addresses only (:func:`is_public`: not loopback,
private, link-local, shared, multicast, reserved, unspecified), unless the operator allows it by
name or network (:class:`Allowance`). The caller then connects to an address it checked, never to
the name again, so a name that resolves elsewhere a moment later (DNS rebinding) reaches nothing new.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: ``socket.getaddrinfo``'s signature: ``resolve(host, port, type=...)`` → address tuples
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class RefusedAddress(Exception):
    """The host may not be reached by a stranger's job; the message says why."""


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (``ipaddress``'s ``is_global``, and not
    multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Allowance:
    """The operator's private endpoints a stranger's job may reach: host names (exact, case
    insensitive) and networks (CIDR, or one address)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowance:
        """From entries such as ``minio.lan``, ``10.0.0.0/8``, ``127.0.0.1``; :class:`ValueError`
        when an entry is neither a host name nor a network."""
        hosts: set[str] = set()
        networks = []
        for entry in entries:
            text = entry.strip()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if not text or "/" in text or any(c.isspace() for c in text):
                raise ValueError(f"{entry!r} is neither a host name nor a network (CIDR)")
            hosts.add(text.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: str) -> bool:
        """Whether ``host`` (as named) at ``address`` is an allowed private endpoint."""
        if host.lower().rstrip(".") in self.hosts:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip.version == net.version and ip in net for net in self.networks)


def checked_addresses(
    host: str,
    port: int,
    resolve: Resolver = socket.getaddrinfo,
    allow: Allowance = Allowance(),
    what: str = "the host",
) -> list[str]:
    """The addresses ``host`` resolves to, every one public (or allowed); :class:`RefusedAddress`
    otherwise (also when it resolves to nothing or not at all). ``what`` names the host in messages."""
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise RefusedAddress(f"cannot resolve {what} {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(a[4][0]) for a in answers))
    private = [a for a in addresses if not is_public(a) and not allow.allows(host, a)]
    if not addresses or private:
        raise RefusedAddress(
            f"{what} {host} resolves to {', '.join(private) or 'nothing'}, not a public address: a market "
            "job may not reach this host's own network"
        )
    return addresses
