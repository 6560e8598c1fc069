"""Resources of job definitions (S3, Hugging Face, Ollama) fetched into a content cache under home.

Typical use::

    store = ResourceStore(home, ResourceSettings(...))
    directory = store.host_dir(resource)     # mount read-only at resource.target

See :mod:`nosana_node.resources.store` for the rules.
"""

from __future__ import annotations

from nosana_node.resources.errors import (
    ChecksumMismatch,
    ResourceDenied,
    ResourceError,
    ResourceNotFound,
    ResourceRefused,
    ResourceTooLarge,
    SourceUnreachable,
)
from nosana_node.resources.settings import ResourceSettings
from nosana_node.resources.store import Fetched, ResourceStore

__all__ = [
    "ChecksumMismatch",
    "Fetched",
    "ResourceDenied",
    "ResourceError",
    "ResourceNotFound",
    "ResourceRefused",
    "ResourceSettings",
    "ResourceStore",
    "ResourceTooLarge",
    "SourceUnreachable",
]
