"""What one client may cost the local market: every limit the server enforces, in one place
(the README lists them; ``localnet start`` flags override two)."""

from __future__ import annotations

import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    """Limits on what a stranger controls."""

    max_body: int = 50 * 1024  # bytes of one JSON-RPC request (413 above), as validators cap it
    max_connections: int = 512  # HTTP and WebSocket connections open at once
    read_timeout: float = 10.0  # seconds to send a request's headers, or its body (408), or idle
    ws_max_message: int = 64 * 1024  # bytes of one incoming WebSocket message
    ws_max_queued: int = 4 * 1024 * 1024  # bytes waiting for one subscriber before it is dropped
    read_threads: int = 4  # threads serving heavy reads (getProgramAccounts, batches, ...)


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (up to the hard limit); returns
    the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
