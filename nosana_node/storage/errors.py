"""Storage errors: one line each, exit 2 for bad input, 1 for failures (see the README).

Every backend raises only these (HTTP transport errors are mapped in
:mod:`nosana_node.storage.http`); messages name the CID and the backend, never a credential.
"""

from __future__ import annotations

from nosana_node.errors import NosanaError, UserInputError


class StorageError(NosanaError):
    """Content could not be stored or fetched (exit 1)."""


class CidError(UserInputError):
    """Text that is not a CIDv0 (malformed, CIDv1, another codec or hash): exit 2."""


class InputTooLargeError(UserInputError):
    """Content given to ``put`` is larger than ``:storage :max-size``: exit 2."""


class ReadOnlyError(UserInputError):
    """A write to a read-only backend (gateways): exit 2."""


class NotFoundError(StorageError):
    """The CID (or one of its blocks) is not held by the backend."""


class ContentMismatchError(StorageError):
    """Bytes that do not hash to the CID they were fetched or stored under."""


class CorruptBlockError(StorageError):
    """A block that is not a well-formed UnixFS file node."""


class TooLargeError(StorageError):
    """Content fetched is larger than the cap."""


class BackendUnavailableError(StorageError):
    """The backend did not answer (down, refused, timed out) after the retries."""


class BackendRefusedError(StorageError):
    """The backend answered with an error (bad credentials, rejected request)."""
