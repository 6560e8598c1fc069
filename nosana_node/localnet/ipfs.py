"""The local market as its network's IPFS endpoint: a subset of kubo's RPC API and the gateway.

``POST /api/v0/add`` (multipart; CIDv0 defaults only), ``POST /api/v0/cat?arg=CID``,
``POST /api/v0/pin/add?arg=CID``, ``POST /api/v0/pin/ls?arg=CID`` and ``GET|HEAD /ipfs/CID``,
served next to JSON-RPC and backed by an embedded block store in the ledger directory
(``<ledger>/ipfs``). Errors answer as kubo's do: HTTP 500 (400 for bad arguments) with
``{"Message", "Code": 0, "Type": "error"}``; the gateway answers 404 for unknown CIDs. Uploads
are capped (:data:`MAX_ADD_SIZE`); blocks are read and written on the server's event loop one
256 KiB block at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from nosana_node import units
from nosana_node.errors import NosanaError
from nosana_node.storage.base import DEFAULT_MAX_SIZE
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import SizeExceeded
from nosana_node.storage.embedded import EmbeddedStorage
from nosana_node.storage.errors import CidError, NotFoundError
from nosana_node.storage.unixfs import CHUNK_SIZE

MAX_ADD_SIZE = DEFAULT_MAX_SIZE
#: add options this endpoint accepts, and the only values it accepts for them
_ADD_DEFAULTS = {
    "cid-version": {"0"},
    "raw-leaves": {"false"},
    "chunker": {"size-262144", "default"},
    "hash": {"sha2-256"},
    "trickle": {"false"},
    "wrap-with-directory": {"false"},
}


class IpfsEndpoint:
    """The IPFS routes of the local market over an embedded store at ``root``."""

    def __init__(self, root: Path, max_size: int = MAX_ADD_SIZE) -> None:
        self.storage = EmbeddedStorage(root, max_size=max_size)

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/api/v0/add", self.add)
        app.router.add_post("/api/v0/cat", self.cat)
        app.router.add_post("/api/v0/pin/add", self.pin_add)
        app.router.add_post("/api/v0/pin/ls", self.pin_ls)
        app.router.add_get("/ipfs/{cid}", self.gateway)

    # -- RPC ----------------------------------------------------------------------------------------
    async def add(self, request: web.Request) -> web.StreamResponse:
        for name, allowed in _ADD_DEFAULTS.items():
            value = request.query.get(name)
            if value is not None and value.lower() not in allowed:
                return _error(400, f"{name}={value} is not supported: this endpoint adds with CIDv0 defaults")
        if not request.content_type.startswith("multipart/"):
            return _error(400, "add expects a multipart/form-data body with a file part")
        reader = await request.multipart()
        answers: list[dict[str, Any]] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or (part.filename is None and part.name != "file"):
                continue
            builder = self.storage.writer()
            try:
                while chunk := await part.read_chunk(CHUNK_SIZE):
                    builder.feed(chunk)
            except SizeExceeded:
                return _error(413, f"file larger than {units.size(self.storage.max_size)}")
            except NosanaError as exc:
                return _error(500, str(exc))
            cid = builder.finish()
            self.storage.store.add_pin(cid)
            answers.append(
                {"Name": part.filename or str(cid), "Hash": str(cid), "Size": str(builder.dag_size)}
            )
        if not answers:
            return _error(400, "file argument 'path' is required")
        body = "".join(json.dumps(a) + "\n" for a in answers)
        return web.Response(text=body, content_type="application/json")

    async def cat(self, request: web.Request) -> web.StreamResponse:
        try:
            cid = Cid.parse(request.query.get("arg", ""))
            pieces = self.storage.stream(cid)
        except NosanaError as exc:
            return _failed(request, exc)
        return await _send(request, pieces, {"X-Stream-Output": "1"})

    async def pin_add(self, request: web.Request) -> web.Response:
        try:
            cid = Cid.parse(request.query.get("arg", ""))
            self.storage.pin(cid)
        except NosanaError as exc:
            return _failed(request, exc)
        return web.json_response({"Pins": [str(cid)]})

    async def pin_ls(self, request: web.Request) -> web.Response:
        try:
            cid = Cid.parse(request.query.get("arg", ""))
        except CidError as exc:
            return _error(400, str(exc))
        if not (self.storage.store.is_pinned(cid) and self.storage.has(cid)):
            return _error(500, f"path '{cid}' is not pinned")
        return web.json_response({"Keys": {str(cid): {"Type": "recursive"}}})

    # -- gateway ------------------------------------------------------------------------------------
    async def gateway(self, request: web.Request) -> web.StreamResponse:
        try:
            cid = Cid.parse(request.match_info["cid"])
            pieces = self.storage.stream(cid)
        except CidError as exc:
            return web.Response(status=400, text=f"{exc}\n")
        except NotFoundError:
            return web.Response(status=404, text="not found\n")
        except NosanaError as exc:
            return web.Response(status=500, text=f"{exc}\n")
        headers = {"Etag": f'"{cid}"', "Cache-Control": "public, max-age=29030400, immutable"}
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers, content_type="application/octet-stream")
        return await _send(request, pieces, headers)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"Message": message, "Code": 0, "Type": "error"}, status=status)


def _failed(request: web.Request, exc: NosanaError) -> web.Response:
    """Kubo's answer to a failed command: 400 for a bad argument, else 500."""
    if isinstance(exc, CidError):
        return _error(400, str(exc))
    if isinstance(exc, NotFoundError):
        return _error(500, f"{request.query.get('arg', '')}: not found on this local market")
    return _error(500, str(exc))


async def _send(request: web.Request, pieces: Iterator[bytes], headers: dict[str, str]) -> web.StreamResponse:
    """Stream verified pieces; a block missing mid-way ends the connection without a clean end,
    so the client cannot take a truncated body for the whole content."""
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/octet-stream"
    await response.prepare(request)
    try:
        for piece in pieces:
            await response.write(piece)
    except NosanaError:
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


def mount(app: web.Application, chain: Any) -> None:
    """Serve the IPFS routes on ``app``, the store in the chain's ledger directory (none without
    a ledger)."""
    ledger = getattr(chain, "ledger", None)
    if ledger is not None:
        IpfsEndpoint(Path(ledger.path) / "ipfs").mount(app)
