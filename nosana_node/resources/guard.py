"""A market job's resources reach public endpoints only: every connection goes to a checked address.

The node fetches resources on its own host, outside the job network, from endpoints a market job
names (an S3 URL, an Ollama registry host) or the operator configured (S3, Hugging Face). For a
job the node takes from a market, an :class:`AddressGuard` checks each connection as it is made —
the endpoint, and every host a redirect leads to: the host must resolve to public addresses only
(:func:`nosana_node.addresses.checked_addresses`), or be one the operator allows
(``:jobdef :allow-private``); the connection then goes to the checked address, never to the name
again (no DNS rebinding between check and connect). A refusal is a :class:`ResourceRefused`
naming the resource, raised before any request leaves the host.

The guard sits in each client's connection layer: :func:`guarded_backend` for httpx / httpx2
(httpcore's network backend), :func:`pin_boto_client` for botocore (urllib3's connections).
Local ``job run`` uses no guard: the operator's own file may name private endpoints.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nosana_node.addresses import Allowance, RefusedAddress, Resolver, checked_addresses
from nosana_node.resources.errors import ResourceRefused

ALLOW_KEY = ":jobdef :allow-private"


@dataclass(frozen=True)
class AddressGuard:
    """The rule for a market job's resource connections: public addresses, or ``allow``."""

    allow: Allowance = field(default_factory=Allowance)
    resolve: Resolver = socket.getaddrinfo

    def address(self, host: str, port: int, name: str) -> str:
        """The checked address to connect to for ``host:port``; :class:`ResourceRefused` naming
        the resource ``name`` when the host is not public (nor allowed)."""
        try:
            return checked_addresses(host, port, self.resolve, self.allow, what="the endpoint")[0]
        except RefusedAddress as exc:
            raise ResourceRefused(
                f"{name}: refused: {exc} (an operator may allow it in {ALLOW_KEY})"
            ) from None


Connect = Callable[[str, int], str]


class GuardedBackend:
    """An httpcore (or httpcore2) network backend connecting to checked addresses only."""

    def __init__(self, inner: Any, connect: Connect) -> None:
        self._inner = inner
        self._connect = connect

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        """Connect to the checked address of ``host`` (TLS still verifies ``host``'s name)."""
        return self._inner.connect_tcp(self._connect(host, port), port, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # connect_unix_socket, sleep
        return getattr(self._inner, name)


def guarded_backend(transport: Any, connect: Connect) -> None:
    """Make an httpx / httpx2 ``HTTPTransport`` connect through ``connect`` (host, port →
    checked address) from now on."""
    pool = transport._pool
    pool._network_backend = GuardedBackend(pool._network_backend, connect)


def pin_boto_client(client: Any, connect: Connect) -> None:
    """Make a botocore client open every connection (redirects included) to ``connect(host,
    port)``'s address; TLS still verifies the host's name."""
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    def pinned(base: type) -> type:
        def _new_conn(self: Any) -> Any:
            host = self._dns_host
            self._dns_host = connect(host, self.port)
            try:
                return base._new_conn(self)  # type: ignore[attr-defined]
            finally:
                self._dns_host = host

        return type(f"Pinned{base.__name__}", (base,), {"_new_conn": _new_conn})

    pools = {
        "http": type(
            "PinnedHTTPPool", (AWSHTTPConnectionPool,), {"ConnectionCls": pinned(AWSHTTPConnection)}
        ),
        "https": type(
            "PinnedHTTPSPool", (AWSHTTPSConnectionPool,), {"ConnectionCls": pinned(AWSHTTPSConnection)}
        ),
    }
    session = client._endpoint.http_session
    session._pool_classes_by_scheme = pools
    session._manager.pool_classes_by_scheme = pools


def refusal(exc: BaseException) -> ResourceRefused | None:
    """The :class:`ResourceRefused` behind ``exc``, when a client wrapped one (botocore does)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ResourceRefused):
            return current
        seen.add(id(current))
        wrapped = (
            getattr(current, "kwargs", {}).get("error")
            if isinstance(getattr(current, "kwargs", None), dict)
            else None
        )
        current = (
            wrapped if isinstance(wrapped, BaseException) else (current.__cause__ or current.__context__)
        )
    return None
