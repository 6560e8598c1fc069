"""Content to upload, held so that a retry can send it again, with its CID computed on the way.

Bytes stay in memory; a file or stream is copied to an anonymous temporary file (never more
than the cap) while its CID is computed, so a remote backend's answer can be checked against
the CID the content really has.
"""

from __future__ import annotations

import io
import tempfile
from typing import IO

from nosana_node import units
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content, DagBuilder, SizeExceeded, pieces
from nosana_node.storage.errors import InputTooLargeError, StorageError


class Spool:
    """Content ready to send any number of times: :meth:`reader` rewinds it."""

    def __init__(self, content: Content, max_size: int) -> None:
        builder = DagBuilder(max_size=max_size)
        self._file: IO[bytes] | None = None
        self._bytes: bytes | None = None
        try:
            if isinstance(content, bytes | bytearray | memoryview):
                self._bytes = bytes(content)
                builder.feed(self._bytes)
            else:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
                for piece in pieces(content):
                    builder.feed(piece)
                    self._file.write(piece)
        except SizeExceeded:
            self.close()
            raise InputTooLargeError(
                f"content is larger than the storage cap of {units.size(max_size)} (:storage :max-size)"
            ) from None
        except OSError as exc:
            self.close()
            raise StorageError(f"cannot read the content to store: {exc.strerror or exc}") from None
        self.cid: Cid = builder.finish()
        self.size = builder.size

    def reader(self) -> IO[bytes]:
        """The content from its start."""
        if self._bytes is not None:
            return io.BytesIO(self._bytes)
        assert self._file is not None
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
