"""Settings of resource fetching: where sources are, and the limits a stranger's job cannot pass."""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = 1024**3


@dataclass(frozen=True)
class ResourceSettings:
    """Endpoints, mirrors and limits.

    - ``s3_endpoint``: the S3 service for ``s3://`` URLs (``None``: AWS).
    - ``mirrors``: URL prefix → replacement, applied before anything else, e.g.
      ``{"https://models.nosana.io": "s3://nosana-models"}`` to serve Nosana's public models from
      a local S3 mirror.
    - ``hf_endpoint``: the Hugging Face hub.
    - ``ollama_registry``: where the default Ollama registry (``registry.ollama.ai``) is reached.
    - ``max_bytes`` / ``max_files``: the most one resource may hold.
    - ``allow_private``: host names and networks (CIDR) a market job's resources may reach although
      they are not public (see :mod:`nosana_node.resources.guard`), e.g. ``("minio.lan",
      "10.1.0.0/16")``;
    - ``connect_timeout`` / ``read_timeout``: per request, seconds; ``lock_timeout``: how long a
      fetch waits for another fetch of the same resource.
    """

    s3_endpoint: str | None = None
    mirrors: dict[str, str] = field(default_factory=dict)
    hf_endpoint: str = "https://huggingface.co"
    ollama_registry: str = "https://registry.ollama.ai"
    max_bytes: int = 512 * GIB
    max_files: int = 100_000
    allow_private: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    lock_timeout: float = 4 * 3600.0

    def rewrite(self, url: str) -> str:
        """``url`` with the longest matching mirror prefix replaced."""
        for prefix in sorted(self.mirrors, key=len, reverse=True):
            if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                return self.mirrors[prefix].rstrip("/") + url[len(prefix.rstrip("/")) :]
        return url
