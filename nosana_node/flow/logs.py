"""An op's log: decoded, masked, capped, timestamped, kept per stream, and forwarded live.

:class:`LogSink` receives raw output chunks (bytes) of ``stdout`` and ``stderr`` and node
messages (``node``). Each stream has its own UTF-8 decoder and its own masking stream, so a
character or a secret split across two chunks is still handled. The kept log is capped: past
the cap one marker is written and the rest is only counted. Records are JSON lines
``{"t": unix time, "s": stream, "d": text}``, flushed as they come.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nosana_node.secrets.masking import StreamMasker, process_masker

STREAMS = ("stdout", "stderr", "node")
TAIL_CHARS = 16 * 1024
EXCERPT_LINES = 40


class LogSink:
    """Writes one op attempt's log to ``path`` and forwards masked text to ``forward``."""

    def __init__(self, path: Path, cap: int, forward: Callable[[str, str], None] | None = None) -> None:
        self.path = path
        self.cap = cap
        self._forward = forward
        self._file = path.open("w", encoding="utf-8", buffering=1)
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in STREAMS}
        self._maskers: dict[str, StreamMasker] = {s: process_masker().stream() for s in STREAMS}
        self.received = 0  # bytes of output received
        self.kept = 0  # bytes of (masked) text kept
        self.truncated = False
        self._tail = ""

    def write(self, stream: str, data: bytes) -> None:
        """Add a raw output chunk of ``stream``."""
        self.received += len(data)
        text = self._decoders[stream].decode(data)
        if text:
            self._emit(stream, self._maskers[stream].feed(text))

    def note(self, text: str) -> None:
        """Add a node message (a whole line is added when ``text`` lacks a newline)."""
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
        self._file.write(json.dumps({"t": round(time.time(), 6), "s": stream, "d": text}) + "\n")
        self._tail = (self._tail + text)[-TAIL_CHARS:]
        if self._forward is not None:
            self._forward(stream, text)

    def close(self) -> dict[str, Any]:
        """Flush decoders and maskers, close the file; returns the log summary for the op state."""
        if not self._file.closed:
            for stream in STREAMS:
                rest = self._decoders[stream].decode(b"", final=True)
                self._emit(stream, self._maskers[stream].feed(rest) + self._maskers[stream].flush())
            self._file.close()
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
    """The records of a stored log: ``(time, stream, text)``."""
    with path.open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                record = json.loads(line)
                yield record["t"], record["s"], record["d"]
