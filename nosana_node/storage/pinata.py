"""Pinata's pinning API: the ``pinata`` backend. Reads go through IPFS gateways.

``put`` is ``POST /pinning/pinFileToIPFS`` (multipart ``file``, ``pinataOptions`` with
``cidVersion`` 0) and the ``IpfsHash`` answered must be the CID computed here; ``put_json`` is
``POST /pinning/pinJSONToIPFS`` (``pinataContent``); ``pin`` is ``POST /pinning/pinByHash``;
``has`` asks ``GET /data/pinList`` for a pinned row. Every request carries ``Authorization:
Bearer <JWT>``; the JWT comes from the vault and is registered with the process masker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx

from nosana_node.errors import NosanaError
from nosana_node.secrets.masking import process_masker
from nosana_node.storage.base import DEFAULT_MAX_SIZE, BaseStorage, encode_json
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content, cid_of
from nosana_node.storage.errors import BackendRefusedError, ContentMismatchError, StorageError
from nosana_node.storage.gateway import GatewayStorage
from nosana_node.storage.http import Endpoint, HttpOptions
from nosana_node.storage.spool import Spool

log = logging.getLogger(__name__)
OPTIONS = {"cidVersion": 0, "wrapWithDirectory": False}
METADATA_NAME = "nosana-node"


class PinataStorage(BaseStorage):
    """Pins through Pinata at ``url`` (``https://api.pinata.cloud``), reads through ``gateways``."""

    def __init__(
        self,
        url: str,
        jwt: str,
        gateways: tuple[str, ...] | list[str],
        options: HttpOptions | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if not jwt:
            raise StorageError("the Pinata JWT is empty")
        process_masker().add(jwt)
        options = options or HttpOptions()
        self.max_size = max_size
        self.endpoint = Endpoint(
            url, options, label="Pinata", headers={"Authorization": f"Bearer {jwt}"}, classify=_classify
        )
        self.reader = GatewayStorage(gateways, options, max_size=max_size) if gateways else None
        self.name = f"Pinata {self.endpoint.base_url}"

    def close(self) -> None:
        self.endpoint.close()
        if self.reader is not None:
            self.reader.close()

    def put(self, content: Content, *, max_size: int | None = None) -> Cid:
        with Spool(content, self.cap(max_size)) as spool:
            answer = self.endpoint.call_json(
                "POST",
                "/pinning/pinFileToIPFS",
                body=lambda: {
                    "files": {"file": (str(spool.cid), spool.reader(), "application/octet-stream")},
                    "data": {
                        "pinataOptions": json.dumps(OPTIONS),
                        "pinataMetadata": json.dumps({"name": METADATA_NAME}),
                    },
                },
            )
            got = _ipfs_hash(answer)
            if got != spool.cid:
                raise ContentMismatchError(
                    f"Pinata pinned {spool.size} bytes as {got}, but they hash to {spool.cid}"
                )
            return spool.cid

    def put_json(self, document: Any) -> Cid:
        """Pin a JSON document with pinJSONToIPFS; the CID is Pinata's (of its serialisation)."""
        expected = cid_of(encode_json(document))
        answer = self.endpoint.call_json(
            "POST",
            "/pinning/pinJSONToIPFS",
            body=lambda: {
                "json": {
                    "pinataContent": document,
                    "pinataOptions": OPTIONS,
                    "pinataMetadata": {"name": METADATA_NAME},
                }
            },
        )
        got = _ipfs_hash(answer)
        if got != expected:
            log.debug("Pinata serialised the JSON document differently: %s, not %s", got, expected)
        return got

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:
        if self.reader is None:
            raise StorageError("the pinata backend reads through gateways: set :storage :gateways")
        return self.reader.stream(cid, max_size=self.cap(max_size))

    def pin(self, cid: Cid | str) -> None:
        root = Cid.parse(cid)
        self.endpoint.call_json(
            "POST",
            "/pinning/pinByHash",
            body=lambda: {"json": {"hashToPin": str(root), "pinataMetadata": {"name": METADATA_NAME}}},
        )

    def has(self, cid: Cid | str) -> bool:
        root = Cid.parse(cid)
        answer = self.endpoint.call_json(
            "GET", "/data/pinList", params={"hashContains": str(root), "status": "pinned"}
        )
        rows = answer.get("rows") if isinstance(answer, dict) else None
        return any(isinstance(r, dict) and r.get("ipfs_pin_hash") == str(root) for r in rows or [])


def _ipfs_hash(answer: Any) -> Cid:
    if not isinstance(answer, dict) or not isinstance(answer.get("IpfsHash"), str):
        raise BackendRefusedError(f"Pinata answered without an IpfsHash: {str(answer)[:120]}")
    return Cid.parse(answer["IpfsHash"])


def _classify(response: httpx.Response, body: bytes) -> NosanaError | None:
    """Pinata's error answers: ``{"error": {"reason", "details"}}`` or ``{"error": "..."}``."""
    if response.status_code in (429,) or response.status_code >= 500:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    detail = ""
    if isinstance(doc, dict):
        error = doc.get("error", doc.get("message"))
        if isinstance(error, dict):
            detail = ": ".join(str(error[k]) for k in ("reason", "details") if error.get(k))
        elif error:
            detail = str(error)
    detail = " ".join(detail.split())[:200] or " ".join(body.decode(errors="replace").split())[:200]
    path = response.request.url.path
    if response.status_code in (401, 403):
        return BackendRefusedError(
            f"Pinata refused the JWT on {path} (HTTP {response.status_code}"
            f"{': ' + detail if detail else ''}); check :storage :pinata-jwt"
        )
    return BackendRefusedError(f"Pinata {path}: HTTP {response.status_code}{': ' + detail if detail else ''}")
