"""A stand-in for Pinata's pinning API (Pinata's service cannot be reached from here).

It speaks the request and response shapes of Pinata's documented legacy API and nothing more:

- ``POST /pinning/pinFileToIPFS``: multipart ``file`` (required), ``pinataOptions`` and
  ``pinataMetadata`` as JSON text; answers ``{"IpfsHash", "PinSize", "Timestamp",
  "isDuplicate"}``;
- ``POST /pinning/pinJSONToIPFS``: ``{"pinataContent", "pinataOptions", "pinataMetadata"}``; the
  content is stored as ``JSON.stringify`` writes it (compact, key order kept); same answer;
- ``POST /pinning/pinByHash``: ``{"hashToPin", "pinataMetadata"}``; answers ``{"id", "ipfsHash",
  "status", "name"}``;
- ``GET /data/pinList?hashContains=&status=``: ``{"count", "rows": [{"id", "ipfs_pin_hash",
  "size", "user_id", "date_pinned", "date_unpinned", "metadata", "regions"}]}``;
- every request needs ``Authorization: Bearer <JWT>``, else 401 ``{"error": {"reason",
  "details"}}``.

Content is stored through the project's embedded store (so CIDs are CIDv0, ``cidVersion`` 0;
``cidVersion`` 1 is refused here). :meth:`gateway_app` serves the same store as a dedicated
gateway (``GET /ipfs/<CID>``). ``fail_next`` makes the next requests answer 503 (to test
retries); ``requests`` records what was asked (method, path, Authorization header).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from nosana_node.localnet.ipfs import IpfsEndpoint
from nosana_node.storage.base import encode_json
from nosana_node.storage.cid import Cid
from nosana_node.storage.errors import CidError

MAX_UPLOAD = 64 << 20


def _error(status: int, reason: str, details: str) -> web.Response:
    return web.json_response({"error": {"reason": reason, "details": details}}, status=status)


class PinataStandIn:
    """Pinata's pinning API, as a local aiohttp app over an embedded store at ``root``."""

    def __init__(self, root: Path, jwt: str) -> None:
        self.endpoint = IpfsEndpoint(root, max_size=MAX_UPLOAD)  # its store, and a gateway for it
        self.storage = self.endpoint.storage
        self.jwt = jwt
        self.fail_next = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self.pins: dict[str, dict[str, Any]] = {}

    def api_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/pinning/pinFileToIPFS", self.pin_file)
        app.router.add_post("/pinning/pinJSONToIPFS", self.pin_json)
        app.router.add_post("/pinning/pinByHash", self.pin_by_hash)
        app.router.add_get("/data/pinList", self.pin_list)
        return app

    def gateway_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ipfs/{cid}", self.endpoint.gateway)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.headers.get("Authorization")))
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="Service Unavailable")
        if request.headers.get("Authorization") != f"Bearer {self.jwt}":
            return _error(401, "INVALID_CREDENTIALS", "Invalid/expired credentials provided")
        return await handler(request)

    # -- pinning ------------------------------------------------------------------------------------
    async def pin_file(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            return _error(400, "INVALID_REQUEST", "multipart/form-data expected")
        reader = await request.multipart()
        cid, size, fields = None, 0, {}
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                builder = self.storage.writer()
                while chunk := await part.read_chunk(262_144):
                    builder.feed(chunk)
                cid, size = builder.finish(), builder.dag_size
            elif part.name in ("pinataOptions", "pinataMetadata"):
                try:
                    fields[part.name] = json.loads(await part.text())
                except ValueError:
                    return _error(400, "INVALID_REQUEST", f"{part.name} is not JSON")
        if cid is None:
            return _error(400, "INVALID_REQUEST", "file is required")
        refused = _check_options(fields.get("pinataOptions"))
        return refused or self._pinned(cid, size, fields.get("pinataMetadata"))

    async def pin_json(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "INVALID_REQUEST", "body is not JSON")
        if not isinstance(body, dict) or "pinataContent" not in body:
            body = {"pinataContent": body}  # a bare object is pinned as is
        refused = _check_options(body.get("pinataOptions"))
        if refused:
            return refused
        builder = self.storage.writer()
        builder.feed(encode_json(body["pinataContent"]))
        return self._pinned(builder.finish(), builder.dag_size, body.get("pinataMetadata"))

    async def pin_by_hash(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            cid = Cid.parse(body.get("hashToPin", ""))
        except CidError as exc:
            return _error(400, "INVALID_REQUEST", str(exc))
        name = (body.get("pinataMetadata") or {}).get("name", str(cid))
        status = "searching"
        if self.storage.has(cid):
            self._pinned(cid, 0, body.get("pinataMetadata"))
            status = "prechecking"
        return web.json_response(
            {"id": str(uuid.uuid4()), "ipfsHash": str(cid), "status": status, "name": name}
        )

    async def pin_list(self, request: web.Request) -> web.Response:
        wanted, status = request.query.get("hashContains", ""), request.query.get("status", "all")
        rows = [r for h, r in self.pins.items() if wanted in h and status in ("all", "pinned")]
        return web.json_response({"count": len(rows), "rows": rows})

    def _pinned(self, cid: Cid, size: int, metadata: Any) -> web.Response:
        duplicate = str(cid) in self.pins
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        if not duplicate:
            self.pins[str(cid)] = {
                "id": str(uuid.uuid4()),
                "ipfs_pin_hash": str(cid),
                "size": size,
                "user_id": "stand-in",
                "date_pinned": now,
                "date_unpinned": None,
                "metadata": {"name": (metadata or {}).get("name"), "keyvalues": None},
                "regions": [{"regionId": "FRA1", "currentReplicationCount": 1, "desiredReplicationCount": 1}],
            }
        self.storage.store.add_pin(cid)
        return web.json_response(
            {"IpfsHash": str(cid), "PinSize": size, "Timestamp": now, "isDuplicate": duplicate}
        )


def _check_options(options: Any) -> web.Response | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        return _error(400, "INVALID_REQUEST", "pinataOptions must be an object")
    if options.get("cidVersion", 0) not in (0, "0"):
        return _error(400, "INVALID_REQUEST", "this stand-in pins with cidVersion 0 only")
    return None
