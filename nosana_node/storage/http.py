"""HTTP for the remote backends: one place for timeouts, retries and mapping httpx's errors.

:class:`Endpoint` wraps one base URL. Every call is retried on what may pass (connection refused
or reset, a timeout, HTTP 429 and 5xx) up to ``retries`` times with jittered exponential
backoff, then raises :class:`~nosana_node.storage.errors.BackendUnavailableError`; an error
answer a backend gives on purpose raises what its ``classify`` callback returns (else
:class:`~nosana_node.storage.errors.BackendRefusedError`). A request body is built afresh for
each attempt (``body`` is a callable), so a file upload can be retried. Answers read whole are
capped at :data:`MAX_ANSWER`; streamed bodies are read through :meth:`Endpoint.chunks`, which maps
a connection that breaks or goes silent mid-way. No httpx exception leaves this module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from nosana_node.config.schema import StorageConfig
from nosana_node.errors import ConfigError, NosanaError
from nosana_node.storage.errors import BackendRefusedError, BackendUnavailableError, StorageError

# httpx logs every request at INFO: storage requests are reported by their outcome instead
logging.getLogger("httpx").setLevel(logging.WARNING)

#: the largest answer read whole (JSON answers of add, pin, Pinata)
MAX_ANSWER = 1 << 20
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

#: a backend's view of an error answer: the error to raise, or None to treat it as transient
Classify = Callable[[httpx.Response, bytes], NosanaError | None]


@dataclass(frozen=True)
class HttpOptions:
    """Timeouts and retries of a remote backend (defaults: ``:storage :timeout``, ``:retries``)."""

    timeout: float = StorageConfig.timeout
    retries: int = StorageConfig.retries
    backoff: float = 0.5
    max_backoff: float = 8.0


class Endpoint:
    """One remote HTTP API, by base URL."""

    def __init__(
        self,
        base_url: str,
        options: HttpOptions,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        classify: Classify | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base_url, self.options, self.label = base_url.rstrip("/"), options, label
        self._classify = classify
        self._sleep, self._jitter = sleep, jitter
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    # -- calls --------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Callable[[], dict[str, Any]] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """The answer (status 2xx) and its body, read whole (at most :data:`MAX_ANSWER`)."""
        with self.open(method, path, params=params, body=body) as response:
            data = bytearray()
            for piece in self.chunks(response):
                data += piece
                if len(data) > MAX_ANSWER:
                    raise BackendRefusedError(f"{self._where(path)}: answer larger than {MAX_ANSWER} bytes")
            return response, bytes(data)

    def call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (the last line of a newline-delimited stream)."""
        _, data = self.call(method, path, **kwargs)
        lines = [line for line in data.splitlines() if line.strip()]
        try:
            return json.loads(lines[-1]) if lines else None
        except ValueError:
            raise BackendRefusedError(f"{self._where(path)}: answered something that is not JSON") from None

    @contextlib.contextmanager
    def open(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Callable[[], dict[str, Any]] | None = None,
    ) -> Iterator[httpx.Response]:
        """A streamed answer with status 2xx (the body is read with :meth:`chunks`)."""
        response = self._send(method, path, params, body)
        try:
            yield response
        finally:
            response.close()

    def chunks(self, response: httpx.Response) -> Iterator[bytes]:
        """The body of a streamed answer, with broken or silent connections mapped."""
        try:
            yield from response.iter_bytes()
        except httpx.TimeoutException:
            raise BackendUnavailableError(
                f"{self._where(response.request.url.path)}: stopped sending "
                f"(nothing for {self.options.timeout:g}s)"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"{self._where(response.request.url.path)}: connection broken mid-answer ({_reason(exc)})"
            ) from None

    # -- the retry loop -----------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Callable[[], dict[str, Any]] | None,
    ) -> httpx.Response:
        attempts = self.options.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.delay(attempt))
            try:
                request = self._client.build_request(method, path, params=params, **(body() if body else {}))
                response = self._client.send(request, stream=True)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise ConfigError(f"{self.label} {self.base_url}: bad URL ({exc})") from None
            except httpx.TimeoutException:
                last = f"no answer within {self.options.timeout:g}s"
                continue
            except httpx.HTTPError as exc:
                last = f"cannot connect ({_reason(exc)})"
                continue
            except OSError as exc:  # reading an upload body
                raise StorageError(f"{self.label}: cannot read what to send: {exc.strerror or exc}") from None
            if response.is_success:
                return response
            error = self._error(response, path)
            if error is not None:
                raise error
            last = f"HTTP {response.status_code}"
        raise BackendUnavailableError(
            f"{self._where(path)}: {last} (after {attempts} attempt{'s' if attempts > 1 else ''})"
        )

    def _error(self, response: httpx.Response, path: str) -> NosanaError | None:
        """The error to raise for a non-2xx answer, or None to retry it."""
        try:
            data = b""
            for piece in response.iter_bytes():
                data += piece
                if len(data) > 64 * 1024:
                    break
        except httpx.HTTPError:
            data = b""
        finally:
            response.close()
        if self._classify is not None:
            decided = self._classify(response, data)
            if decided is not None:
                return decided
        if response.status_code in RETRY_STATUS:
            return None
        text = " ".join(data.decode(errors="replace").split())[:200]
        return BackendRefusedError(
            f"{self._where(path)}: HTTP {response.status_code}{': ' + text if text else ''}"
        )

    def delay(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (1, 2, ...): exponential, capped, half of it jittered."""
        ceiling = min(self.options.max_backoff, self.options.backoff * 2 ** (attempt - 1))
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _where(self, path: str) -> str:
        return f"{self.label} {self.base_url}{path if path.startswith('/') else '/' + path}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused"
    return text.split("\n")[0][:120] or type(exc).__name__
