"""A market job's checkout: a public host, reached with none of this host's identity.

A market job names its repository (the job document's ``url``, or the pipeline's ``trigger``)
and the clone runs on the node's host, outside the job network. So a *public* checkout (one the
node compiles from a market job; local runs keep git as the operator set it up) follows rules:

* ``https`` and ``http`` URLs only (:data:`PUBLIC_SCHEMES`): ``ssh`` would use this host's keys,
  ``git://`` cannot be pinned to an address;
* every address the host resolves to must be public (:func:`nosana_node.addresses.is_public`:
  not loopback, private, link-local, shared, multicast, reserved, unspecified), so a job cannot
  make the node reach the services of its own host or network;
* git connects to the address that was checked (``http.curloptResolve``) and follows no
  redirect, so a name that resolves elsewhere a moment later (DNS rebinding) or a redirect to
  another host reaches nothing new;
* git reads no global or system configuration and runs with an empty ``HOME`` and no SSH agent:
  no credential helper, ``.netrc`` or key of the operator serves a stranger's checkout.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from nosana_node.addresses import RefusedAddress, Resolver, checked_addresses

PUBLIC_SCHEMES = ("https", "http")
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: Environment variables that would hand git an identity or a way around the rules.
_DROPPED = ("SSH_AUTH_SOCK", "SSH_ASKPASS", "GIT_ASKPASS", "GIT_SSH", "GIT_SSH_COMMAND", "XDG_CONFIG_HOME")


class RefusedRepository(Exception):
    """The repository is not one a market job may check out; the message says why."""


def pin(repo: str, resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """The git options that pin a public checkout of ``repo`` to a checked address (``-c``
    pairs), or :class:`RefusedRepository`."""
    parts = urlsplit(repo)
    if parts.scheme not in PUBLIC_SCHEMES or not parts.hostname:
        raise RefusedRepository(
            f"{_shown(repo)}: a market job's repository must be an https:// or http:// URL"
        )
    host = parts.hostname
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise RefusedRepository(f"{_shown(repo)}: not a valid port") from None
    try:
        addresses = checked_addresses(host, port, resolve, what="the repository host")
    except RefusedAddress as exc:
        raise RefusedRepository(str(exc)) from None
    return pin_options(host, port, addresses)


def pin_options(host: str, port: int, addresses: Sequence[str]) -> list[str]:
    """git options: connect to ``host:port`` at ``addresses`` only, follow no redirect."""
    name = f"[{host}]" if ":" in host else host
    pinned = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
    return ["-c", f"http.curloptResolve={name}:{port}:{pinned}", "-c", "http.followRedirects=false"]


def public_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """git's environment for a public checkout: ``base`` without an identity, ``HOME`` empty."""
    env = {k: v for k, v in base.items() if k not in _DROPPED}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return env


def _shown(repo: str) -> str:
    return repr(repo[:100])
