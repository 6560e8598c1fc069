"""A flow's stored log, read back for the API: every op attempt's JSON lines merged by time.

Files are ``<home>/flows/<id>/logs/<op index>.<attempt>.jsonl`` (:mod:`nosana_node.flow.logs`).
Only whole lines are read (a line still being written is left for the live stream), and the
number of lines handed out per attempt is kept (:attr:`StoredLog.counts`): a follower then skips the
live lines it has already sent (``seq <= count``, see :mod:`nosana_node.api.bus`), or, once the
flow has ended, reads the rest of the files skipping what it sent (``skip``). Reading is
lazy and in batches of bounded size, so a long log is streamed, never held whole.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_NAME = re.compile(r"^(\d{3,})\.(\d+)\.jsonl$")


@dataclass(frozen=True, slots=True)
class StoredLine:
    """One record of a stored log."""

    t: float
    op: str
    attempt: int
    stream: str
    text: str

    def to_json(self) -> dict[str, object]:
        return {"t": self.t, "op": self.op, "attempt": self.attempt, "s": self.stream, "d": self.text}


class StoredLog:
    """The records of one flow's log files, merged by time; close it when done."""

    def __init__(
        self, logs_dir: Path, op_ids: list[str], skip: dict[tuple[str, int], int] | None = None
    ) -> None:
        self._files: list[IO[str]] = []
        self.counts: dict[tuple[str, int], int] = {}
        sources = []
        paths = sorted(logs_dir.glob("*.jsonl")) if logs_dir.is_dir() else []
        for path in paths:
            match = _NAME.match(path.name)
            if match is None or int(match.group(1)) >= len(op_ids):
                continue
            op, attempt = op_ids[int(match.group(1))], int(match.group(2))
            try:
                handle = path.open(encoding="utf-8", errors="replace")
            except OSError:
                continue
            self._files.append(handle)
            before = (skip or {}).get((op, attempt), 0)
            self.counts[(op, attempt)] = before
            sources.append(self._records(handle, op, attempt, before))
        self._merged: Iterator[tuple[int, StoredLine]] = heapq.merge(*sources, key=lambda item: item[1].t)
        self.done = False

    def _records(self, handle: IO[str], op: str, attempt: int, skip: int) -> Iterator[tuple[int, StoredLine]]:
        number = 0
        for raw in handle:
            if not raw.endswith("\n"):  # still being written: the live stream has it
                return
            number += 1
            if number <= skip:  # sent before
                continue
            try:
                record = json.loads(raw)
                yield number, StoredLine(float(record["t"]), op, attempt, str(record["s"]), str(record["d"]))
            except (ValueError, KeyError, TypeError):
                continue

    def batch(self, max_chars: int = 256 * 1024) -> list[StoredLine]:
        """The next records, about ``max_chars`` of text at most (at least one); [] at the end."""
        out: list[StoredLine] = []
        size = 0
        for number, line in self._merged:
            self.counts[(line.op, line.attempt)] = number  # lines of that file handed out so far
            out.append(line)
            size += len(line.text) + 64
            if size >= max_chars:
                return out
        self.done = True
        self.close()
        return out

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        self._files = []
