"""Hugging Face resources: a model repository at a revision (all files, or ``files``), via huggingface_hub.

The listing is the hub's repository info with file metadata (``HfApi.model_info(…,
files_metadata=True)``): the commit the revision points to, and per file its size, git blob id
and, for LFS files, sha256. Files are downloaded from the commit (never a moving branch) with
``huggingface_hub``'s own HTTP download, and LFS files are checked against their sha256. The
token is the resource's ``accessToken`` only: the node's own Hugging Face login is never used.
A revision that is a full commit hash pins the content: once cached, the hub is not asked again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from nosana_node.jobdef.schema import HFResource
from nosana_node.resources.cache import HashingWriter
from nosana_node.resources.errors import (
    ResourceDenied,
    ResourceError,
    ResourceNotFound,
    SourceUnreachable,
)
from nosana_node.resources.guard import AddressGuard, guarded_backend
from nosana_node.resources.settings import ResourceSettings
from nosana_node.resources.source import RemoteFile, safe_relative

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: the guard (and resource name) of the fetch running in this thread; ``None``: not a market job's
_GUARD: ContextVar[tuple[AddressGuard, str] | None] = ContextVar("hf_guard", default=None)
_INSTALLED = threading.Lock()
_installed = False


def _connect(host: str, port: int) -> str:
    current = _GUARD.get()
    return host if current is None else current[0].address(host, port, current[1])


def _guarded_client() -> Any:
    """huggingface_hub's own client, its connections made through :func:`_connect`."""
    from huggingface_hub.utils._http import default_client_factory

    client = default_client_factory()
    guarded_backend(client._transport, _connect)
    return client


@contextmanager
def _guarded(guard: AddressGuard | None, name: str) -> Iterator[None]:
    """huggingface_hub's shared client checks every connection made inside against ``guard``.

    The hub's client is process-wide (``set_client_factory``); the guard is per thread."""
    global _installed
    if guard is None:
        yield
        return
    with _INSTALLED:
        if not _installed:
            from huggingface_hub import set_client_factory

            set_client_factory(_guarded_client)
            _installed = True
    token = _GUARD.set((guard, name))
    try:
        yield
    finally:
        _GUARD.reset(token)


class HFSource:
    """One Hugging Face model repository at one revision."""

    def __init__(
        self, resource: HFResource, settings: ResourceSettings, guard: AddressGuard | None = None
    ) -> None:
        self.settings = settings
        self.guard = guard
        self.repo = resource.repo
        self.revision = resource.revision or "main"
        self.files = resource.files
        self.token = resource.access_token or False
        self.endpoint = settings.hf_endpoint.rstrip("/")
        self.name = f"HF resource {self.repo}@{self.revision}"
        self.key = f"hf:{self.endpoint}|{self.repo}|{self.revision}|{sorted(self.files or [])}"
        self.immutable = bool(_COMMIT.match(self.revision))
        self._commit = self.revision

    def _fail(self, exc: Exception, what: str) -> ResourceError:
        """The one place mapping huggingface_hub's exceptions to resource errors."""
        from huggingface_hub import errors

        if isinstance(exc, ResourceError):  # a refused endpoint (the guard), named already
            return exc
        where = f"{self.name}: {what}"
        if isinstance(exc, errors.GatedRepoError):
            return ResourceDenied(f"{where}: gated repository (a token with access is needed)")
        if isinstance(exc, errors.RepositoryNotFoundError):
            return ResourceNotFound(f"{where}: repository not found (or private: give accessToken)")
        if isinstance(exc, errors.RevisionNotFoundError):
            return ResourceNotFound(f"{where}: revision not found")
        if isinstance(exc, errors.EntryNotFoundError):
            return ResourceNotFound(f"{where}: file not found")
        if isinstance(exc, errors.HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else "?"
            if status in (401, 403):
                return ResourceDenied(f"{where}: access denied ({status})")
            return ResourceError(f"{where}: the hub answered {status}")
        if type(exc).__name__ in (
            "ConnectError",
            "ConnectTimeout",
            "ReadTimeout",
            "TimeoutException",
            "RemoteProtocolError",
            "OfflineModeIsEnabled",
        ):
            return SourceUnreachable(f"{where}: cannot reach the hub ({type(exc).__name__}: {exc})")
        if isinstance(exc, ValueError | OSError):
            return ResourceError(f"{where}: {exc}")
        raise exc

    def listing(self) -> list[RemoteFile]:
        """The files of the repository at the revision's commit."""
        from huggingface_hub import HfApi

        try:
            with _guarded(self.guard, self.name):
                info: Any = HfApi(endpoint=self.endpoint, token=self.token).model_info(
                    self.repo, revision=self.revision, files_metadata=True, timeout=self.settings.read_timeout
                )
        except Exception as exc:
            raise self._fail(exc, "repository info") from None
        if not info.sha or not info.siblings:
            raise ResourceNotFound(f"{self.name}: the hub lists no files")
        self._commit = info.sha
        siblings = {s.rfilename: s for s in info.siblings}
        if self.files is not None:
            missing = [f for f in self.files if f not in siblings]
            if missing:
                raise ResourceNotFound(
                    f"{self.name}: no {', '.join(repr(m) for m in missing)} in the repository"
                )
            siblings = {f: siblings[f] for f in self.files}
        if len(siblings) > self.settings.max_files:
            raise ResourceError(f"{self.name}: {len(siblings)} files, more than {self.settings.max_files}")
        return [
            RemoteFile(
                path=safe_relative(name, self.name),
                version=f"hf:{self.endpoint}|{self.repo}|{sibling.blob_id or info.sha + ':' + name}",
                size=sibling.size,
                sha256=sibling.lfs.sha256 if sibling.lfs else None,
            )
            for name, sibling in siblings.items()
        ]

    def download(self, file: RemoteFile, out: HashingWriter) -> None:
        """Download one file of the listed commit with huggingface_hub's HTTP download."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers

        url = hf_hub_url(self.repo, file.path, revision=self._commit, endpoint=self.endpoint)
        headers = build_hf_headers(token=self.token)
        try:
            with _guarded(self.guard, self.name):
                http_get(url, out, headers=headers, expected_size=file.size, displayed_filename=file.path)  # type: ignore[arg-type]
        except Exception as exc:
            raise self._fail(exc, f"fetching {file.path!r}") from None
