"""Ollama models from a registry: the manifest and its blobs, each checked against its sha256 digest.

A model name is ``[host/][namespace/]model[:tag]`` (``qwen3:0.6b`` is
``registry.ollama.ai/library/qwen3:0.6b``). The registry speaks the Docker registry v2 protocol:
``GET /v2/<namespace>/<model>/manifests/<tag>`` gives the manifest (its config and layers, each a
``sha256:`` digest and a size) and ``GET /v2/<namespace>/<model>/blobs/<digest>`` a blob, often
through a redirect to a blob store. The resource's directory is laid out as Ollama's own models
directory, so ``ollama serve`` finds the model by its name once it is mounted at ``target``
(``/root/.ollama/models`` by default)::

    manifests/<host>/<namespace>/<model>/<tag>
    blobs/sha256-<hex>
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx

from nosana_node.jobdef.schema import OllamaResource
from nosana_node.resources.cache import CHUNK, HashingWriter
from nosana_node.resources.errors import (
    ResourceDenied,
    ResourceError,
    ResourceNotFound,
    ResourceTooLarge,
    SourceUnreachable,
)
from nosana_node.resources.guard import AddressGuard, guarded_backend
from nosana_node.resources.settings import ResourceSettings
from nosana_node.resources.source import RemoteFile

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_TARGET = "/root/.ollama/models"
MANIFEST_TYPES = ",".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)
MAX_MANIFEST = 1024 * 1024
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_PART = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_HOST = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]*(:[0-9]+)?$")


def parse_model(name: str) -> tuple[str, str, str, str]:
    """``(host, namespace, model, tag)`` of an Ollama model name; :class:`ResourceError` if malformed."""
    *front, last = name.split("/")
    model, _, tag = last.partition(":")
    tag = tag or "latest"
    if len(front) == 0:
        host, namespace = DEFAULT_HOST, "library"
    elif len(front) == 1 and ("." in front[0] or ":" in front[0] or front[0] == "localhost"):
        host, namespace = front[0], "library"
    elif len(front) == 1:
        host, namespace = DEFAULT_HOST, front[0]
    elif len(front) == 2:
        host, namespace = front
    else:
        host = namespace = ""
    if not (all(_PART.match(p) for p in (namespace, model, tag)) and _HOST.match(host)):
        raise ResourceError(f"Ollama resource {name}: not a model name ([host/][namespace/]model[:tag])")
    return host, namespace, model, tag


class OllamaSource:
    """One Ollama model from its registry."""

    immutable = False

    def __init__(
        self, resource: OllamaResource, settings: ResourceSettings, guard: AddressGuard | None = None
    ) -> None:
        self.settings = settings
        self.host, self.namespace, self.model, self.tag = parse_model(resource.model)
        self.name = f"Ollama resource {resource.model}"
        self.key = f"ollama:{self.host}/{self.namespace}/{self.model}:{self.tag}"
        base = settings.ollama_registry if self.host == DEFAULT_HOST else f"https://{self.host}"
        self.base = f"{base.rstrip('/')}/v2/{self.namespace}/{self.model}"
        self._manifest: bytes = b""
        transport = httpx.HTTPTransport()
        if guard is not None:  # a market job's: the registry and every redirect target checked
            name = self.name
            guarded_backend(transport, lambda host, port: guard.address(host, port, name))
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            trust_env=guard is None,  # a proxy would reach hosts the guard never sees
        )

    def _fail(self, exc: Exception, what: str) -> ResourceError:
        """The one place mapping httpx's exceptions and statuses to resource errors."""
        where = f"{self.name}: {what}"
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            if status == 404:
                return ResourceNotFound(f"{where}: not found (404)")
            if status in (401, 403):
                return ResourceDenied(f"{where}: access denied ({status})")
            return ResourceError(f"{where}: the registry answered {status}")
        if isinstance(exc, httpx.TransportError):
            return SourceUnreachable(f"{where}: cannot reach the registry ({type(exc).__name__}: {exc})")
        raise exc

    def listing(self) -> list[RemoteFile]:
        """The manifest (its bytes are kept) and every blob it names."""
        try:
            with self._client.stream(
                "GET", f"{self.base}/manifests/{self.tag}", headers={"Accept": MANIFEST_TYPES}
            ) as r:
                r.raise_for_status()
                body = b""
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > MAX_MANIFEST:
                        raise ResourceTooLarge(f"{self.name}: manifest larger than {MAX_MANIFEST} bytes")
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise self._fail(exc, f"manifest {self.tag}") from None
        try:
            manifest: Any = json.loads(body)
            layers = [manifest["config"], *manifest["layers"]]
            blobs = [(str(layer["digest"]), int(layer["size"])) for layer in layers]
        except (ValueError, KeyError, TypeError) as exc:
            raise ResourceError(f"{self.name}: the registry sent a malformed manifest ({exc})") from None
        self._manifest = body
        manifest_sha = hashlib.sha256(body).hexdigest()
        files = [
            RemoteFile(
                path=f"manifests/{self.host}/{self.namespace}/{self.model}/{self.tag}",
                version=f"sha256:{manifest_sha}",
                size=len(body),
                sha256=manifest_sha,
            )
        ]
        seen: set[str] = set()
        for digest, size in blobs:
            match = _DIGEST.match(digest)
            if not match:
                raise ResourceError(
                    f"{self.name}: the manifest names a blob by {digest!r}, not a sha256 digest"
                )
            if digest in seen:
                continue
            seen.add(digest)
            hexdigest = match.group(1)
            files.append(RemoteFile(f"blobs/sha256-{hexdigest}", f"sha256:{hexdigest}", size, hexdigest))
        return files

    def download(self, file: RemoteFile, out: HashingWriter) -> None:
        """The manifest from memory; a blob from the registry (redirects followed)."""
        if file.path.startswith("manifests/"):
            out.write(self._manifest)
            return
        digest = file.version
        try:
            with self._client.stream("GET", f"{self.base}/blobs/{digest}") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise self._fail(exc, f"blob {digest}") from None
