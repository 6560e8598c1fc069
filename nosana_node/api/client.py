"""The reading side of a node's API: a job's log, stored or followed live, as its poster (a
signed challenge, :mod:`.access`) or as the node's operator (its token).

:class:`LogClient` speaks HTTP with httpx; every transport failure and refusal becomes one
:class:`~nosana_node.errors.NosanaError` line (the server's own message for 4xx/5xx). Records
are the server's: ``{"type": "log", "t", "op", "attempt", "s", "d"}`` and, when following,
``op`` (an op started or ended), ``end`` (the flow ended: ``status``), ``dropped`` (the node
disconnected a client that read too slowly).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from solders.keypair import Keypair

from nosana_node.errors import NosanaError, UserInputError

#: Longest line of a response read (a record holds a kept log piece: 16 MiB logs, smaller pieces).
MAX_LINE = 32 * 1024 * 1024


class LogAccessError(NosanaError):
    """The node refused to show the log, or could not be asked."""


class LogClient:
    """Reads job logs from the node API at ``base_url`` as ``keypair``'s owner, or with ``token``."""

    def __init__(
        self,
        base_url: str,
        *,
        keypair: Keypair | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UserInputError(f"--node {base_url!r}: expected the node's API URL, http://HOST:PORT")
        if keypair is None and token is None:
            raise UserInputError("a keypair (the job's poster) or the operator token is needed")
        self.base_url = base_url.rstrip("/")
        self.keypair = keypair
        self.token = token
        # a follower waits for lines as long as the job runs: no read timeout, the server pings
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, read=None),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- credentials -------------------------------------------------------------------------------
    def authorization(self, job: str) -> str:
        """The ``Authorization`` value for one request about ``job``."""
        if self.token is not None:
            return f"Bearer {self.token}"
        assert self.keypair is not None
        challenge = self._json("POST", f"/jobs/{job}/challenge")
        message = str(challenge["message"])
        expected = f"job: {job}\n"
        if expected not in message or not message.startswith("nosana-node log access\n"):
            raise LogAccessError(f"{self.base_url} sent a challenge that is not a log access challenge")
        signature = self.keypair.sign_message(message.encode())
        pubkey, nonce = self.keypair.pubkey(), challenge["nonce"]
        return f"Nosana-Signature pubkey={pubkey},nonce={nonce},signature={signature}"

    # -- reads --------------------------------------------------------------------------------------
    def stored(self, job: str) -> Iterator[dict[str, Any]]:
        """The job's stored log records."""
        with self._stream(job, "") as response:
            for line in _lines(response):
                if line:
                    yield {"type": "log", **json.loads(line)}

    def follow(self, job: str) -> Iterator[dict[str, Any]]:
        """The stored log, then live records until the job's flow ends (an ``end`` record)."""
        with self._stream(job, "?follow=1") as response:
            data: list[str] = []
            for line in _lines(response):
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif line == "" and data:
                    yield json.loads("\n".join(data))
                    data = []

    # -- transport ----------------------------------------------------------------------------------
    def _stream(self, job: str, query: str) -> Any:
        headers = {"Authorization": self.authorization(job)}
        return _Stream(self, f"/jobs/{job}/logs{query}", headers)

    def _json(self, method: str, path: str) -> dict[str, Any]:
        try:
            response = self._http.request(method, path)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        _raise_for(response, self.base_url)
        try:
            return dict(response.json())
        except ValueError:
            raise LogAccessError(f"{self.base_url} answered {method} {path} with no JSON") from None

    def _unreachable(self, exc: Exception) -> LogAccessError:
        reason = type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            reason = "connection refused or host unreachable"
        elif isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        return LogAccessError(f"the node API at {self.base_url} cannot be reached ({reason})")


class _Stream:
    def __init__(self, client: LogClient, path: str, headers: dict[str, str]) -> None:
        self.client, self.path, self.headers = client, path, headers
        self._cm: Any = None

    def __enter__(self) -> httpx.Response:
        try:
            self._cm = self.client._http.stream("GET", self.path, headers=self.headers)
            response = self._cm.__enter__()
        except httpx.HTTPError as exc:
            raise self.client._unreachable(exc) from None
        if response.status_code >= 400:
            response.read()
            self._cm.__exit__(None, None, None)
            _raise_for(response, self.client.base_url)
        return response

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


def _lines(response: httpx.Response) -> Iterator[str]:
    """The lines of a streamed response (bounded; a connection lost midway is an error)."""
    buffer = b""
    try:
        for chunk in response.iter_bytes():
            buffer += chunk
            if len(buffer) > MAX_LINE and b"\n" not in buffer:
                raise LogAccessError(f"a line of the node's answer exceeds {MAX_LINE} bytes")
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
    except httpx.HTTPError as exc:
        raise LogAccessError(f"the connection to the node was lost ({type(exc).__name__})") from None
    if buffer:
        yield buffer.decode("utf-8", "replace")


def _raise_for(response: httpx.Response, base_url: str) -> None:
    if response.status_code < 400:
        return
    try:
        message = str(response.json().get("error") or "")
    except ValueError:
        message = ""
    message = " ".join(message.split())[:300] or response.reason_phrase
    raise LogAccessError(f"{base_url}: {message} (HTTP {response.status_code})")
