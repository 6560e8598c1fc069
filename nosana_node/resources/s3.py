"""S3 resources: a prefix of a bucket (or some files of it) on any S3-protocol service, via boto3.

Where a URL points (the node's rules, after ``ResourceSettings.mirrors``):

- ``s3://bucket/prefix`` — the configured S3 endpoint (AWS when none); Nosana's
  ``s3://nos-ai-models-qllsn32u/…`` is read from ``https://models.nosana.io/…``, as the
  official node does;
- ``http(s)://host/bucket/prefix`` with the resource's ``bucket`` — path-style on that host;
- ``https://<bucket>.s3[.<region>].amazonaws.com/prefix`` — that AWS bucket;
- any other ``http(s)://host/prefix`` — the host serves one bucket at its root (a CDN or custom
  domain such as ``models.nosana.io``, an R2 public bucket): virtual-hosted requests to it.

A prefix is a directory: every object below it, at its path relative to the prefix (``files``
picks some of them, each required). A URL naming one object gives that object. Credentials come
from the resource's ``IAM`` when filled in, else from the node's :class:`S3Credentials` (the
vault), else requests are unsigned (public buckets); the node's own AWS identity is never used.
Single-part ETags are MD5 sums and are checked.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from nosana_node.errors import SecretError
from nosana_node.jobdef.schema import AnyS3Resource, S3BucketResource, S3BucketsResource
from nosana_node.resources.cache import CHUNK, HashingWriter
from nosana_node.resources.errors import (
    ResourceDenied,
    ResourceError,
    ResourceNotFound,
    ResourceTooLarge,
    SourceUnreachable,
)
from nosana_node.resources.guard import AddressGuard, pin_boto_client, refusal
from nosana_node.resources.settings import ResourceSettings
from nosana_node.resources.source import RemoteFile, safe_relative
from nosana_node.secrets.refs import SecretRef, SecretResolver

NOSANA_BUCKET = "s3://nos-ai-models-qllsn32u"
NOSANA_ORIGIN = "https://models.nosana.io"
_AWS_VIRTUAL = re.compile(r"^(?P<bucket>[a-z0-9.-]+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


@dataclass(frozen=True)
class S3Credentials:
    """Keys for a private bucket."""

    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"


class CredentialSource(Protocol):
    """The node's own keys for buckets (the vault), by bucket name or host."""

    def for_bucket(self, bucket: str | None, host: str) -> S3Credentials | None:
        """Keys for ``bucket`` on ``host``, or ``None``."""
        ...


class VaultCredentials:
    """Keys read from the vault: ``paths`` maps a bucket name (or a host) to a secret path.

    The secret holds ``ACCESS_KEY_ID``, ``SECRET_ACCESS_KEY`` and optionally ``REGION``.
    """

    def __init__(self, resolver: SecretResolver, paths: dict[str, str]) -> None:
        self.resolver = resolver
        self.paths = paths

    def for_bucket(self, bucket: str | None, host: str) -> S3Credentials | None:
        """Keys for ``bucket`` (or ``host``) when the node has a vault path for it."""
        path = self.paths.get(bucket or "") or self.paths.get(host)
        if path is None:
            return None
        key_id = self.resolver.resolve(SecretRef.parse(f"{path}#ACCESS_KEY_ID"))
        secret = self.resolver.resolve(SecretRef.parse(f"{path}#SECRET_ACCESS_KEY"))
        try:
            region = self.resolver.resolve(SecretRef.parse(f"{path}#REGION"))
        except SecretError:  # the region is optional
            region = "us-east-1"
        return S3Credentials(key_id, secret, region)


@dataclass(frozen=True)
class S3Location:
    """An endpoint, a bucket and a key prefix; ``virtual`` puts the bucket in the host name."""

    endpoint: str | None
    bucket: str
    prefix: str
    virtual: bool = False

    @property
    def host(self) -> str:
        """The host requests go to (for messages and credentials)."""
        if self.endpoint is None:
            return f"{self.bucket}.s3.amazonaws.com"
        netloc = urlsplit(self.endpoint).netloc
        return f"{self.bucket}.{netloc}" if self.virtual else netloc


def locate(url: str, bucket: str | None, settings: ResourceSettings) -> S3Location:
    """Where ``url`` (and the resource's ``bucket``) points; :class:`ResourceError` when it cannot tell."""
    if url.startswith(NOSANA_BUCKET):
        url = NOSANA_ORIGIN + url[len(NOSANA_BUCKET) :]
    url = settings.rewrite(url)
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ResourceError(f"S3 resource {url}: no bucket in the URL")
        return S3Location(settings.s3_endpoint, parts.netloc, path)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ResourceError(f"S3 resource {url}: expected an s3:// or http(s):// URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    if bucket:
        prefix = path[len(bucket) + 1 :] if path == bucket or path.startswith(bucket + "/") else path
        return S3Location(origin, bucket, prefix)
    aws = _AWS_VIRTUAL.match(parts.hostname)
    if aws:
        return S3Location(None, aws.group("bucket"), path)
    label, _, parent = parts.netloc.partition(".")
    if not parent:
        raise ResourceError(f"S3 resource {url}: give 'bucket' (the host {parts.netloc!r} names no bucket)")
    return S3Location(f"{parts.scheme}://{parent}", label, path, virtual=True)


class S3Source:
    """One S3 resource: one or several (location, files) parts merged into one directory."""

    immutable = False

    def __init__(
        self,
        resource: AnyS3Resource,
        settings: ResourceSettings,
        credentials: CredentialSource | None = None,
        guard: AddressGuard | None = None,
    ) -> None:
        self.settings = settings
        self.guard = guard
        self.node_credentials = credentials
        self.iam = resource.iam
        parts: list[tuple[str, str | None, list[str] | None]]
        if isinstance(resource, S3BucketsResource):
            parts = [(b.url, None, b.files) for b in resource.buckets]
        elif isinstance(resource, S3BucketResource):
            parts = [(resource.url or f"s3://{resource.bucket}", resource.bucket, None)]
        else:
            if resource.url is None:
                raise ResourceError("S3 resource: no url")
            parts = [(resource.url, None, resource.files)]
        urls = " + ".join(url for url, _, _ in parts)
        self.name = f"S3 resource {urls}"
        self.parts = [(locate(url, bucket, settings), files) for url, bucket, files in parts]
        self.key = "s3:" + "|".join(
            f"{loc.endpoint}|{loc.virtual}|{loc.bucket}|{loc.prefix}|{sorted(files or [])}"
            for loc, files in self.parts
        )
        self._clients: dict[S3Location, Any] = {}
        self._objects: dict[str, tuple[S3Location, str, str]] = {}  # version → location, key, etag

    # -- client and errors ------------------------------------------------------------------------

    def _client(self, location: S3Location) -> Any:
        client = self._clients.get(location)
        if client is not None:
            return client
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        keys = self._credentials(location)
        config = Config(
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "virtual" if location.virtual else "path"},
            signature_version=None if keys else UNSIGNED,
        )
        with _SESSION_LOCK:  # loading botocore's service models once saves ~0.2 s per source
            global _SESSION
            if _SESSION is None:
                _SESSION = boto3.session.Session()
            session = _SESSION
            client = session.client(
                "s3",
                endpoint_url=location.endpoint,
                region_name=keys.region if keys else "us-east-1",
                aws_access_key_id=keys.access_key_id if keys else None,
                aws_secret_access_key=keys.secret_access_key if keys else None,
                config=config,
            )
        if self.guard is not None:  # a market job's: see nosana_node.resources.guard
            guard, name = self.guard, self.name
            pin_boto_client(client, lambda host, port: guard.address(host, port, name))
        self._clients[location] = client
        return client

    def _credentials(self, location: S3Location) -> S3Credentials | None:
        iam = self.iam
        if iam is not None and iam.access_key_id and iam.secret_access_key:
            return S3Credentials(iam.access_key_id, iam.secret_access_key, iam.region or "us-east-1")
        if self.node_credentials is not None:
            return self.node_credentials.for_bucket(location.bucket, location.host)
        return None

    def _fail(self, exc: Exception, what: str) -> ResourceError:
        """The one place mapping botocore's exceptions to resource errors."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        refused = refusal(exc)
        if refused is not None:
            return refused
        where = f"{self.name}: {what}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket", "NoSuchKey", "404", "NotFound") or status == 404:
                return ResourceNotFound(f"{where}: not found ({code or status})")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403") or status in (
                401,
                403,
            ):
                return ResourceDenied(f"{where}: access denied ({code or status})")
            if code in ("PreconditionFailed", "412") or status == 412:
                return ResourceError(f"{where}: the object changed while it was fetched; try again")
            return ResourceError(f"{where}: {code or status}: {error.get('Message', '')}".rstrip(": "))
        if isinstance(exc, EndpointConnectionError) or type(exc).__name__ in (
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "ConnectionClosedError",
        ):
            return SourceUnreachable(f"{where}: cannot reach {exc}")
        if isinstance(exc, BotoCoreError):
            return ResourceError(f"{where}: {exc}")
        raise exc

    # -- Source -----------------------------------------------------------------------------------

    def listing(self) -> list[RemoteFile]:
        """Every object of every part, at its path below the part's prefix."""
        from botocore.exceptions import BotoCoreError, ClientError

        files: dict[str, RemoteFile] = {}
        for location, wanted in self.parts:
            try:
                found = self._list_part(location, wanted)
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(exc, f"listing s3://{location.bucket}/{location.prefix}") from None
            for remote in found:
                if remote.path in files or any(
                    other.startswith(remote.path + "/") or remote.path.startswith(other + "/")
                    for other in files
                ):
                    raise ResourceError(f"{self.name}: two objects want the path {remote.path!r}")
                files[remote.path] = remote
                if len(files) > self.settings.max_files:
                    raise ResourceTooLarge(
                        f"{self.name}: more files than the limit of {self.settings.max_files}"
                    )
        return list(files.values())

    def _list_part(self, location: S3Location, wanted: list[str] | None) -> list[RemoteFile]:
        client = self._client(location)
        directory = (
            location.prefix if not location.prefix or location.prefix.endswith("/") else location.prefix + "/"
        )
        objects: dict[str, dict[str, Any]] = {}
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=directory):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):  # "directory" placeholder objects
                    objects[item["Key"]] = item
            if len(objects) > self.settings.max_files:
                raise ResourceTooLarge(f"{self.name}: more files than the limit of {self.settings.max_files}")
        if not objects and location.prefix and not location.prefix.endswith("/"):
            head = client.head_object(Bucket=location.bucket, Key=location.prefix)  # one object
            name = location.prefix.rsplit("/", 1)[-1]
            item = {"Key": location.prefix, "Size": head["ContentLength"], "ETag": head["ETag"]}
            return [self._remote(location, item, name)]
        if wanted is not None:
            missing = [f for f in wanted if directory + f.lstrip("/") not in objects]
            if missing:
                where = f"s3://{location.bucket}/{directory}"
                raise ResourceNotFound(f"{self.name}: no {', '.join(repr(m) for m in missing)} under {where}")
            objects = {directory + f.lstrip("/"): objects[directory + f.lstrip("/")] for f in wanted}
        if not objects:
            raise ResourceNotFound(f"{self.name}: nothing under s3://{location.bucket}/{directory}")
        return [self._remote(location, item, item["Key"][len(directory) :]) for item in objects.values()]

    def _remote(self, location: S3Location, item: dict[str, Any], path: str) -> RemoteFile:
        etag = str(item.get("ETag", "")).strip('"')
        key = item["Key"]
        version = f"s3:{location.endpoint}|{location.virtual}|{location.bucket}|{key}|{etag}|{item['Size']}"
        self._objects[version] = (location, key, etag)
        return RemoteFile(
            path=safe_relative(path, self.name),
            version=version,
            size=int(item["Size"]),
            md5=etag if _MD5.match(etag) else None,
        )

    def download(self, file: RemoteFile, out: HashingWriter) -> None:
        """Stream one object (only the version listed: ``If-Match`` its ETag)."""
        from botocore.exceptions import BotoCoreError, ClientError

        location, key, etag = self._objects[file.version]
        try:
            extra = {"IfMatch": f'"{etag}"'} if etag else {}
            response = self._client(location).get_object(Bucket=location.bucket, Key=key, **extra)
            body = response["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK):
                    out.write(chunk)
            finally:
                body.close()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"fetching {file.path!r}") from None
