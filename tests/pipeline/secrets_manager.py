"""A stand-in for the Nosana secrets manager (a Nosana service that cannot run here).

It speaks the manager's protocol: ``POST /login`` with ``{address, signature, timestamp[, job]}``
(an ed25519 signature, base58, of ``nosana_secret_<timestamp>`` by ``address``; the timestamp
within 60 s of now) answers ``{"token": …}`` or HTTP 400; ``GET /secrets`` with
``Authorization: <token>`` answers the JSON map of the secrets stored for that address, or
HTTP 401. It serves on 127.0.0.1, a free port, in a thread.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature


class SecretsManager:
    """Secrets per address, the tokens issued, and every login attempt seen."""

    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored
        self.tokens: dict[str, str] = {}
        self.logins: list[dict[str, Any]] = []
        self.url = ""

    def login(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.logins.append(body)
        try:
            address, timestamp = Pubkey.from_string(body["address"]), int(body["timestamp"])
            signature = Signature.from_string(body["signature"])
        except (KeyError, TypeError, ValueError):
            return 400, {"error": "address/signature/timestamp missing"}
        if abs(time.time() - timestamp) > 60:
            return 400, {"error": "timestamp expired"}
        if not signature.verify(address, f"nosana_secret_{timestamp}".encode()):
            return 400, {"error": "invalid signature"}
        token = secrets.token_hex(16)
        self.tokens[token] = str(address)
        return 200, {"token": token}

    def secrets(self, token: str | None) -> tuple[int, dict[str, Any]]:
        if token not in self.tokens:
            return 401, {"error": "unauthorized"}
        return 200, self.stored.get(self.tokens[token], {})


@contextmanager
def serve(stored: dict[str, dict[str, Any]]) -> Iterator[SecretsManager]:
    """Run the stand-in until the block ends."""
    manager = SecretsManager(stored)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/login":
                return self._answer(404, {})
            length = min(int(self.headers.get("Content-Length", 0)), 65536)
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                return self._answer(400, {"error": "bad json"})
            return self._answer(*manager.login(body if isinstance(body, dict) else {}))

        def do_GET(self) -> None:
            if self.path != "/secrets":
                return self._answer(404, {})
            return self._answer(*manager.secrets(self.headers.get("Authorization")))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    manager.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield manager
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
