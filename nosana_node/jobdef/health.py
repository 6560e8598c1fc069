"""Health checks of exposed ports: when a service is ready, and whether it stays healthy.

A port is checked from the node through the address its container port is published on:

- ``http``: ``method`` on ``path`` with ``headers`` and ``body`` (a string as it is, anything
  else as JSON); passes when the status is ``expected_status``;
- ``websocket``: a WebSocket handshake on ``/``; passes when the first message received holds
  ``expected_response`` (nothing received within the request timeout: it does not pass).

Rules (as the official node, with a time limit of our own): a port is ready when every check of
it passes in one round; a port without checks is ready as soon as its container runs; the op is
ready when every port is. Rounds run every ``interval`` until then; a port that is not ready
within ``timeout`` fails the op. Once ready, the checks marked ``continuous`` run every
``continuous_interval``; a change (failing, passing again) is written to the op's log and does
not end the op.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

# a check every few seconds is not worth a log line each
logging.getLogger("httpx").setLevel(logging.WARNING)

#: one request of a check may take this long
REQUEST_TIMEOUT = 10.0
#: the most of an answer read
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Check:
    """One health check of a port, as the job definition states it."""

    type: str
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    expected_status: int = 200
    expected_response: str = ""
    continuous: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        """From a job definition's ``health_checks`` entry."""
        return cls(
            type=data["type"],
            path=data.get("path") or "/",
            method=data.get("method") or "GET",
            headers=dict(data.get("headers") or {}),
            body=data.get("body"),
            expected_status=int(data.get("expected_status", 200)),
            expected_response=data.get("expected_response", ""),
            continuous=bool(data.get("continuous", False)),
        )

    def describe(self) -> str:
        """``GET /health → 200`` or ``websocket → 'pong'``."""
        if self.type == "websocket":
            return f"websocket → {self.expected_response!r}"
        return f"{self.method} {self.path} → {self.expected_status}"


@dataclass(frozen=True)
class Port:
    """An exposed container port, where it is published, and its checks."""

    port: int
    kind: str  # the job definition's port type (web, api, websocket, …), "" when none
    host: str
    host_port: int
    checks: tuple[Check, ...] = ()

    @property
    def url(self) -> str:
        """The URL the port is reached at from the node."""
        scheme = "ws" if self.kind == "websocket" else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.host_port}"


def run_check(port: Port, check: Check, timeout: float = REQUEST_TIMEOUT) -> tuple[bool, str]:
    """Run one check against ``port``: (passed, what happened in a few words)."""
    if check.type == "websocket":
        return _websocket(port, check, timeout)
    return _http(port, check, timeout)


def _http(port: Port, check: Check, timeout: float) -> tuple[bool, str]:
    import httpx

    body = check.body
    content = None if body is None else body if isinstance(body, str) else json.dumps(body)
    base = port.url.replace("ws://", "http://", 1)
    path = check.path if check.path.startswith("/") else "/" + check.path
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(check.method, base + path, headers=check.headers, content=content) as answer,
        ):
            status = answer.status_code
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return status == check.expected_status, f"status {status}"


def _websocket(port: Port, check: Check, timeout: float) -> tuple[bool, str]:
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    url = port.url.replace("http://", "ws://", 1) + "/"
    try:
        with connect(url, open_timeout=timeout, close_timeout=1, max_size=MAX_ANSWER) as socket:
            message = socket.recv(timeout=timeout)
    except TimeoutError:
        return False, "no message"
    except (OSError, WebSocketException) as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    return check.expected_response in text, f"received {text[:60]!r}"


def check_round(port: Port, checks: tuple[Check, ...] | None = None) -> tuple[bool, str]:
    """Every check of ``port`` (or ``checks``) once: (all passed, the first failure's words)."""
    for check in port.checks if checks is None else checks:
        passed, what = run_check(port, check)
        if not passed:
            return False, f"{check.describe()}: {what}"
    return True, "passed"
