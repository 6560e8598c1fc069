"""IPFS HTTP gateways (read only): ``GET <gateway>/ipfs/<CID>``, tried in order.

Gateways are untrusted: each answer is spooled to a temporary file while it is checked against
the CID (and the size cap), and only an answer that hashes to the CID is handed out. A gateway
that fails (down, slow, 404, wrong bytes) passes the turn to the next; when all fail, the error
names each one's reason. Content whose CID is not ``ipfs add``'s default layout of its bytes
cannot be verified this way and is refused.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

import httpx

from nosana_node.errors import NosanaError
from nosana_node.storage.base import DEFAULT_MAX_SIZE, BaseStorage, Verifier
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content
from nosana_node.storage.errors import (
    BackendUnavailableError,
    ContentMismatchError,
    NotFoundError,
    ReadOnlyError,
    StorageError,
    TooLargeError,
)
from nosana_node.storage.http import Endpoint, HttpOptions

_READ = 1 << 20


class GatewayStorage(BaseStorage):
    """Reads through ``gateways`` (base URLs such as ``https://ipfs.io``), first that succeeds."""

    def __init__(
        self,
        gateways: tuple[str, ...] | list[str],
        options: HttpOptions | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if not gateways:
            raise StorageError("no IPFS gateway configured (:storage :gateways)")
        self.max_size = max_size
        options = options or HttpOptions()
        self.endpoints = [Endpoint(g, options, label="gateway", classify=_classify) for g in gateways]
        self.name = "gateways " + ", ".join(e.base_url for e in self.endpoints)

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.close()

    def put(self, content: Content) -> Cid:
        raise ReadOnlyError(
            "the gateway backend is read only: store with :storage :backend embedded, kubo or pinata"
        )

    def pin(self, cid: Cid | str) -> None:
        raise ReadOnlyError("the gateway backend cannot pin: use :storage :backend kubo or pinata")

    def has(self, cid: Cid | str) -> bool:
        """Whether a gateway answers for the CID (not verified: use get for that)."""
        root = Cid.parse(cid)
        for endpoint in self.endpoints:
            try:
                endpoint.call("HEAD", f"/ipfs/{root}")
                return True
            except NosanaError:
                continue
        return False

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:
        root = Cid.parse(cid)
        cap = self.cap(max_size)
        failures: list[tuple[str, NosanaError]] = []
        for endpoint in self.endpoints:
            try:
                spooled = self._fetch(endpoint, root, cap)
            except NosanaError as exc:
                failures.append((endpoint.base_url, exc))
                continue
            return _drain(spooled)
        raise _combined(root, failures)

    def _fetch(self, endpoint: Endpoint, cid: Cid, cap: int) -> IO[bytes]:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed out open, closed by _drain
        try:
            verifier = Verifier(cid, cap, f"gateway {endpoint.base_url}")
            with endpoint.open("GET", f"/ipfs/{cid}") as response:
                for piece in endpoint.chunks(response):
                    verifier.feed(piece)
                    spool.write(piece)
            verifier.finish()
            spool.seek(0)
            return spool
        except BaseException:
            spool.close()
            raise


def _drain(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while piece := spool.read(_READ):
            yield piece


def _classify(response: httpx.Response, body: bytes) -> NosanaError | None:
    if response.status_code in (404, 410):
        return NotFoundError(f"not found (HTTP {response.status_code})")
    return None


def _combined(cid: Cid, failures: list[tuple[str, NosanaError]]) -> StorageError:
    """One error for all gateways: the most telling kind, each gateway's reason."""
    reasons = "; ".join(f"{url}: {_short(exc, url)}" for url, exc in failures)
    kinds = [type(exc) for _, exc in failures]
    message = f"{cid}: no gateway served it ({reasons})"
    if ContentMismatchError in kinds:
        return ContentMismatchError(message)
    if TooLargeError in kinds:
        return TooLargeError(message)
    if kinds and all(k is NotFoundError for k in kinds):
        return NotFoundError(message)
    if any(isinstance(exc, StorageError) and not isinstance(exc, NotFoundError) for _, exc in failures):
        return BackendUnavailableError(message)
    return NotFoundError(message)


def _short(exc: NosanaError, url: str) -> str:
    text = str(exc)
    for prefix in (f"gateway {url}/ipfs/", f"gateway {url}"):
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip(": ")
    return text
