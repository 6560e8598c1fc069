"""An op's log: decoded, masked, capped, timestamped, kept per stream, and forwarded live.

:class:`LogSink` receives raw output chunks (bytes) of ``stdout`` and ``stderr`` and node
messages (``node``). Each stream has its own UTF-8 decoder and its own masking stream, so a
character or a secret split across two chunks is still handled. The kept log is capped: past
the cap one marker is written and the rest is only counted. Records are JSON lines
``{"t": unix time, "s": stream, "d": text}``, flushed as they come.

A log that cannot be written (the disk is full, the file cannot be made) stops the op: the first
failing :meth:`LogSink.write` raises :class:`LogWriteError` (reason ``storage``, resumable),
naming the file and the system's reason; from then on nothing more is written, node messages are
dropped, and :meth:`LogSink.check` raises the same error. A closed sink ignores what comes late.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.secrets.masking import StreamMasker, process_masker

STREAMS = ("stdout", "stderr", "node")
TAIL_CHARS = 16 * 1024
EXCERPT_LINES = 40


class LogWriteError(NosanaError):
    """An op's log could not be written (a fault of the node: the op is resumable)."""

    reason = "storage"


class LogSink:
    """Writes one op attempt's log to ``path`` and forwards masked text to ``forward``."""

    def __init__(self, path: Path, cap: int, forward: Callable[[str, str], None] | None = None) -> None:
        self.path = path
        self.cap = cap
        self._forward = forward
        self.error: LogWriteError | None = None
        self._file: Any = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8", buffering=1)
        except OSError as exc:
            self._failed(exc)
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in STREAMS}
        self._maskers: dict[str, StreamMasker] = {s: process_masker().stream() for s in STREAMS}
        self.received = 0  # bytes of output received
        self.kept = 0  # bytes of (masked) text kept
        self.truncated = False
        self._tail = ""

    def _failed(self, exc: OSError) -> LogWriteError:
        if self.error is None:
            why = exc.strerror or str(exc)
            self.error = LogWriteError(f"cannot write the log {self.path}: {why}")
            if self._file is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._file.close()
        return self.error

    @property
    def writable(self) -> bool:
        """False once closed or after a write failed."""
        return self.error is None and self._file is not None and not self._file.closed

    def check(self) -> None:
        """Raise :class:`LogWriteError` if anything could not be written."""
        if self.error is not None:
            raise self.error

    def write(self, stream: str, data: bytes) -> None:
        """Add a raw output chunk of ``stream``; :class:`LogWriteError` if the log cannot be written."""
        self.received += len(data)
        self.check()
        text = self._decoders[stream].decode(data)
        if text:
            self._emit(stream, self._maskers[stream].feed(text))
        self.check()

    def note(self, text: str) -> None:
        """Add a node message (a whole line is added when ``text`` lacks a newline); never raises."""
        self._emit("node", process_masker().mask(text if text.endswith("\n") else text + "\n"))

    def _emit(self, stream: str, text: str) -> None:
        if not text:
            return
        if self.truncated:
            return
        size = len(text.encode("utf-8"))
        if self.kept + size > self.cap:
            room = self.cap - self.kept
            text = text.encode("utf-8")[:room].decode("utf-8", "ignore")
            size = len(text.encode("utf-8"))
            self.truncated = True
        if text:
            self.kept += size
            self._record(stream, text)
        if self.truncated:
            marker = f"\n[log truncated: more than {self.cap} bytes of output; the rest was not kept]\n"
            self._record("node", marker)

    def _record(self, stream: str, text: str) -> None:
        if not self.writable:
            return
        try:
            self._file.write(json.dumps({"t": round(time.time(), 6), "s": stream, "d": text}) + "\n")
        except OSError as exc:
            self._failed(exc)
            return
        self._tail = (self._tail + text)[-TAIL_CHARS:]
        if self._forward is not None:
            self._forward(stream, text)

    def close(self) -> dict[str, Any]:
        """Flush decoders and maskers, close the file; returns the log summary for the op state."""
        if self.writable:
            for stream in STREAMS:
                rest = self._decoders[stream].decode(b"", final=True)
                self._emit(stream, self._maskers[stream].feed(rest) + self._maskers[stream].flush())
            try:
                self._file.close()
            except OSError as exc:  # the last buffered line could not be written
                self._failed(exc)
        return {
            "path": str(self.path),
            "received": self.received,
            "kept": self.kept,
            "truncated": self.truncated,
            "excerpt": excerpt(self._tail),
        }


def excerpt(text: str, lines: int = EXCERPT_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    parts = text.splitlines()
    return "\n".join(parts[-lines:])


def read_log(path: Path) -> Iterator[tuple[float, str, str]]:
    """The records of a stored log: ``(time, stream, text)``; a last record cut short (the disk
    filled while it was written) is left out."""
    with path.open(encoding="utf-8", errors="replace") as file:
        for line in file:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if line.endswith("\n"):
                    raise
                return
            yield record["t"], record["s"], record["d"]
