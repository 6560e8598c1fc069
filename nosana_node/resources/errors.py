"""Failures fetching a resource: one line naming the resource (exit code 1: the op fails)."""

from __future__ import annotations

from nosana_node.errors import NosanaError


class ResourceError(NosanaError):
    """A resource could not be fetched; the message starts with the resource's name."""

    reason = "resource"  # the op that needed it fails with this reason


class ResourceNotFound(ResourceError):
    """The source has no such bucket, prefix, file, repository, revision or model."""


class ResourceDenied(ResourceError):
    """The source refused the credentials (or asked for some)."""


class ChecksumMismatch(ResourceError):
    """A file's content does not match the hash its source states."""


class ResourceTooLarge(ResourceError):
    """A resource or one of its files is larger than the node allows."""


class SourceUnreachable(ResourceError):
    """The source could not be reached (connection, timeout): a cached copy may serve instead."""


class ResourceRefused(ResourceError):
    """A market job's resource names an endpoint (or a redirect to one) that is not public and
    not allowed by the operator: nothing is fetched."""
