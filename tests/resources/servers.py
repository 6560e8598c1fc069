"""Servers the resource tests fetch from, on loopback with free ports.

- :func:`moto_s3` — moto's standalone server (a real S3-protocol server) in its own process.
- :class:`HubStandIn` — a stand-in for the Hugging Face hub (no hub is reachable here) speaking
  the hub's HTTP protocol for what ``huggingface_hub`` asks: repository info with file metadata
  (``/api/models/{repo}/revision/{rev}?blobs=true``) and file resolution
  (``/{repo}/resolve/{rev}/{path}``, with ``ETag``/``X-Repo-Commit``), bearer tokens on private repos.
- :class:`RegistryStandIn` — a stand-in for the Ollama registry (``registry.ollama.ai``) speaking
  its protocol: ``/v2/{ns}/{model}/manifests/{tag}`` (an OCI/Docker v2 manifest) and
  ``/v2/{ns}/{model}/blobs/sha256:…`` answered, like the real one, by a redirect to a blob store.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


def free_port() -> int:
    """A port nothing listens on now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server in a child process; yields its endpoint URL, stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it accepts connections (or died)
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start within 60 s") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Server:
    """A threaded HTTP server on a free loopback port, counting the requests it answers."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner._handle(self, head=False)

            def do_HEAD(self) -> None:
                owner._handle(self, head=True)

        self.requests: list[str] = []
        self.authorizations: list[str] = []  # the Authorization header of each request ("" when none)
        self.bytes_served = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def _handle(self, request: BaseHTTPRequestHandler, head: bool) -> None:
        self.requests.append(f"{request.command} {request.path}")
        self.authorizations.append(request.headers.get("Authorization", ""))
        status, headers, body = self.route(request)
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if not head:
            request.wfile.write(body)
            self.bytes_served += len(body)

    def route(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


@dataclass
class HubRepo:
    """A repository of the hub stand-in: files by path, LFS above 1 KiB, an optional token."""

    commit: str
    files: dict[str, bytes]
    token: str | None = None
    corrupt: set[str] = field(default_factory=set)  # serve other bytes than the stated sha256


class HubStandIn(_Server):
    """The Hugging Face hub's repository-info and file-resolve protocol (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, HubRepo] = {}

    def route(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        path = unquote(urlsplit(request.path).path)
        auth = request.headers.get("Authorization", "")
        if path.startswith("/api/models/"):
            repo_id, _, revision = path.removeprefix("/api/models/").partition("/revision/")
            repo = self._repo(repo_id, auth)
            if repo is None:
                return _json(401, {"error": "Repository Not Found"}, {"X-Error-Code": "RepoNotFound"})
            if revision not in ("main", repo.commit):
                return _json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return _json(
                200,
                {
                    "id": repo_id,
                    "sha": repo.commit,
                    "siblings": [self._sibling(name, data) for name, data in sorted(repo.files.items())],
                },
            )
        if "/resolve/" in path:
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            revision, _, name = rest.partition("/")
            repo = self._repo(repo_id, auth)
            if repo is None:
                return _json(401, {"error": "Repository Not Found"}, {"X-Error-Code": "RepoNotFound"})
            if name not in repo.files:
                return _json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            data = repo.files[name]
            sibling = self._sibling(name, data)
            etag = sibling["lfs"]["sha256"] if "lfs" in sibling else sibling["blobId"]
            body = data[::-1] if name in repo.corrupt else data
            return (
                200,
                {
                    "ETag": f'"{etag}"',
                    "X-Repo-Commit": repo.commit,
                    "Content-Type": "application/octet-stream",
                },
                body,
            )
        return _json(404, {"error": "not found"})

    def _repo(self, repo_id: str, auth: str) -> HubRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.token and auth != f"Bearer {repo.token}"):
            return None
        return repo

    @staticmethod
    def _sibling(name: str, data: bytes) -> dict[str, Any]:
        blob_id = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        sibling: dict[str, Any] = {"rfilename": name, "size": len(data), "blobId": blob_id}
        if len(data) > 1024:
            sibling["lfs"] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "pointerSize": 134,
            }
        return sibling


class RegistryStandIn(_Server):
    """An Ollama registry: manifests and blobs (blobs through a redirect, as the real one does)."""

    MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

    def __init__(self) -> None:
        super().__init__()
        self.manifests: dict[str, bytes] = {}  # "ns/model:tag" → manifest bytes
        self.blobs: dict[str, bytes] = {}  # "sha256:…" → content

    def add_model(self, name: str, layers: dict[str, bytes], corrupt: bool = False) -> dict[str, Any]:
        """Publish ``name`` (``ns/model:tag``) with ``layers`` (media type → content)."""

        def blob(data: bytes) -> dict[str, Any]:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            self.blobs[digest] = data[::-1] if corrupt else data
            return {"digest": digest, "size": len(data)}

        config = json.dumps({"model_format": "gguf", "model_family": "test"}).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": self.MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **blob(config)},
            "layers": [{"mediaType": media, **blob(data)} for media, data in layers.items()],
        }
        self.manifests[name] = json.dumps(manifest).encode()
        return manifest

    def route(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(request.path).path
        if path.startswith("/store/"):
            digest = path.removeprefix("/store/")
            data = self.blobs.get(digest)
            return (
                (200, {"Content-Type": "application/octet-stream"}, data)
                if data is not None
                else _json(404, {})
            )
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[0] == "v2" and parts[3] == "manifests":
            name = f"{parts[1]}/{parts[2]}:{parts[4]}"
            if name not in self.manifests:
                return _json(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
            return 200, {"Content-Type": self.MANIFEST}, self.manifests[name]
        if len(parts) == 5 and parts[0] == "v2" and parts[3] == "blobs":
            if parts[4] not in self.blobs:
                return _json(404, {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})
            return 307, {"Location": f"{self.url}/store/{parts[4]}"}, b""
        return _json(404, {"errors": [{"code": "NAME_UNKNOWN"}]})
