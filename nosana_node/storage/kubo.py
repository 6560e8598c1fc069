"""An IPFS node's RPC API (kubo's ``/api/v0``): the ``kubo`` backend, and the local market's
IPFS endpoint (``localnet``), which speaks the same subset.

``put`` is ``add?cid-version=0`` with the defaults spelled out (no raw leaves, 256 KiB chunks,
sha2-256, pinned); the CID the node answers must be the one computed here for the same bytes.
``stream`` is ``cat``, checked against the CID; ``pin`` is ``pin/add``; ``has`` asks ``pin/ls``
whether the node keeps the CID pinned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from nosana_node.errors import NosanaError
from nosana_node.storage.base import DEFAULT_MAX_SIZE, BaseStorage, Verifier
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content
from nosana_node.storage.errors import BackendRefusedError, ContentMismatchError, NotFoundError
from nosana_node.storage.http import Endpoint, HttpOptions
from nosana_node.storage.spool import Spool

ADD_PARAMS = {
    "cid-version": "0",
    "raw-leaves": "false",
    "chunker": "size-262144",
    "hash": "sha2-256",
    "pin": "true",
    "progress": "false",
}
_MISSING = ("not found", "not pinned", "no link named", "could not find", "block was not found")


class KuboStorage(BaseStorage):
    """Content through an IPFS node's RPC API at ``url`` (e.g. ``http://127.0.0.1:5001``)."""

    def __init__(
        self,
        url: str,
        options: HttpOptions | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        label: str = "IPFS node",
    ) -> None:
        self.max_size = max_size
        self.endpoint = Endpoint(url, options or HttpOptions(), label=label, classify=classify_kubo_error)
        self.name = f"{label} {self.endpoint.base_url}"

    def close(self) -> None:
        self.endpoint.close()

    def put(self, content: Content, *, max_size: int | None = None) -> Cid:
        with Spool(content, self.cap(max_size)) as spool:
            answer = self.endpoint.call_json(
                "POST",
                "/api/v0/add",
                params=ADD_PARAMS,
                body=lambda: {"files": {"file": ("content", spool.reader(), "application/octet-stream")}},
            )
            got = _hash_of(answer, self.name)
            if got != spool.cid:
                raise ContentMismatchError(
                    f"{self.name} stored {spool.size} bytes under {got}, but they hash to {spool.cid} "
                    "(the node does not add with ipfs add's CIDv0 defaults)"
                )
            return spool.cid

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:
        root = Cid.parse(cid)
        verifier = Verifier(root, self.cap(max_size), self.name)
        with self.endpoint.open("POST", "/api/v0/cat", params={"arg": str(root)}) as response:
            for piece in self.endpoint.chunks(response):
                verifier.feed(piece)
                yield piece
        verifier.finish()

    def pin(self, cid: Cid | str) -> None:
        root = Cid.parse(cid)
        answer = self.endpoint.call_json("POST", "/api/v0/pin/add", params={"arg": str(root)})
        if not isinstance(answer, dict) or str(root) not in (answer.get("Pins") or []):
            raise BackendRefusedError(f"{self.name}: pin/add of {root} answered {str(answer)[:120]}")

    def has(self, cid: Cid | str) -> bool:
        root = Cid.parse(cid)
        try:
            answer = self.endpoint.call_json(
                "POST", "/api/v0/pin/ls", params={"arg": str(root), "type": "recursive"}
            )
        except NotFoundError:
            return False
        return isinstance(answer, dict) and str(root) in (answer.get("Keys") or {})


def classify_kubo_error(response: httpx.Response, body: bytes) -> NosanaError | None:
    """Kubo's error answers (``{"Message", "Code", "Type": "error"}``) are final: a missing CID is
    :class:`NotFoundError`, anything else :class:`BackendRefusedError`; other answers retry (5xx)."""
    try:
        doc: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("Message"), str):
        return None
    message = " ".join(doc["Message"].split())[:300]
    where = f"{response.request.url.copy_with(query=None)}"
    if any(word in message.lower() for word in _MISSING):
        return NotFoundError(f"{where}: {message}")
    return BackendRefusedError(f"{where}: {message}")


def _hash_of(answer: Any, name: str) -> Cid:
    if not isinstance(answer, dict) or not isinstance(answer.get("Hash"), str):
        raise BackendRefusedError(f"{name}: add answered without a Hash: {str(answer)[:120]}")
    return Cid.parse(answer["Hash"])
