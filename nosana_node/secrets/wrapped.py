"""Secrets in wrapped base64: an encoded secret cut into lines is found across the line breaks.

``base64`` wraps its output at 76 columns (PEM at 64), so the encoded form of a secret longer
than 57 bytes never appears on one line. Rules:

- a *chain* is a run of base64 text (standard or URL-safe alphabet, padding) continued over line
  breaks (``\\n`` or ``\\r\\n``): each line but the last ends in a run of at least
  :data:`MIN_WIDTH` base64 characters and the next line starts with base64 characters;
- the lines of a chain are joined and searched for the masked forms made of base64 characters
  only (the base64 forms, and values that look like them); a match that crosses
  a line break is masked on every line it touches, however few of its characters a line holds
  (a match inside one line is the plain masker's business);
- for a stream, :func:`hold_from` says where the trailing text starts that a chain continued
  by later text could still reach: the stream masker keeps it back.

Every search is linear in the text: line breaks are found by a literal search, each run of
base64 is scanned once.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Fewest base64 characters a line may end with and still be continued by the next line.
MIN_WIDTH = 32

_B64 = "A-Za-z0-9+/=_-"
_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
#: A line break inside a chain: after MIN_WIDTH base64 characters, before one. It starts with
#: the literal newline, so the search skips ahead fast over ordinary text.
_JOINT = re.compile(rf"\n(?:(?<=[{_B64}]{{{MIN_WIDTH}}}\n)|(?<=[{_B64}]{{{MIN_WIDTH}}}\r\n))(?=[{_B64}])")
_RUN = re.compile(rf"[{_B64}]+")
_BREAK = re.compile(r"\r?\n")


def encodable(form: str) -> bool:
    """True when ``form`` is made of base64 characters only (so it may be found wrapped)."""
    return _RUN.fullmatch(form) is not None


def _run_start(text: str, pos: int) -> int:
    """Start of the base64 run that ends at ``pos`` (a window grown 4x at a time: linear)."""
    window = 128
    while True:
        low = max(pos - window, 0)
        kept = text[low:pos].rstrip(_B64_CHARS)
        if kept or low == 0:
            return low + len(kept)
        window *= 4


def _chains(text: str) -> Iterator[tuple[int, list[tuple[int, int]], int]]:
    """Each chain as (start, its line breaks as (start, end) spans, end)."""
    joints = [(m.start() - (text[m.start() - 1] == "\r"), m.end()) for m in _JOINT.finditer(text)]
    index = 0
    while index < len(joints):
        breaks = [joints[index]]
        start = _run_start(text, joints[index][0])
        while True:
            run = _RUN.match(text, breaks[-1][1])  # never None: the joint saw a base64 character
            end = run.end() if run else breaks[-1][1]
            if index + 1 < len(joints) and end == joints[index + 1][0]:
                index += 1
                breaks.append(joints[index])
                continue
            break
        index += 1
        yield start, breaks, end


@dataclass(frozen=True)
class Hit:
    """A masked form found across line breaks: its pieces (one per line) in text positions."""

    pieces: tuple[tuple[int, int], ...]
    open_end: bool  # it ends where the text ends: more text could make a longer form match

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def end(self) -> int:
        return self.pieces[-1][1]


def hits(text: str, pattern: re.Pattern[str]) -> list[Hit]:
    """Every match of ``pattern`` (base64 forms) that crosses a line break of a chain in ``text``."""
    found: list[Hit] = []
    for chain_start, breaks, chain_end in _chains(text):
        starts: list[int] = []  # where each line's piece begins, in the joined text
        origins: list[int] = [chain_start]  # … and in ``text``
        parts: list[str] = []
        joined_len = 0
        for brk_start, brk_end in breaks:
            starts.append(joined_len)
            parts.append(text[origins[-1] : brk_start])
            joined_len += brk_start - origins[-1]
            origins.append(brk_end)
        starts.append(joined_len)
        parts.append(text[origins[-1] : chain_end])
        joined = "".join(parts)
        reaches_end = chain_end == len(text) or _BREAK.fullmatch(text, chain_end) is not None
        for match in pattern.finditer(joined):
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_right(starts, match.end() - 1) - 1
            if first == last:
                continue  # within one line
            pieces = tuple(
                (
                    origins[i] + max(match.start(), starts[i]) - starts[i],
                    origins[i] + min(match.end(), starts[i] + len(parts[i])) - starts[i],
                )
                for i in range(first, last + 1)
            )
            found.append(Hit(pieces, open_end=reaches_end and match.end() == len(joined)))
    return found


def hold_from(text: str, need: int) -> int:
    """Where the trailing text starts that holds at most ``need`` base64 characters of a chain
    that later text could continue. A form of at most ``need + 1`` characters starting before
    that point lies wholly in ``text``; one starting after it may still grow. Looks at no more
    than about ``need`` characters back."""
    end = len(text)  # end of the run looked at
    count = 0  # base64 characters counted after it
    later = end  # start of the run after the line break before which we look
    trailing = True  # the run after the last line break: any length may still grow
    if text.endswith("\r"):  # the first half of a CRLF: the line may have ended
        end, trailing = end - 1, False
    while True:
        reach = need - count if trailing else max(need - count, MIN_WIDTH)
        floor = max(end - reach, 0)
        start = floor + len(text[floor:end].rstrip(_B64_CHARS))
        length = end - start
        if not trailing and length < MIN_WIDTH:
            return later  # too short a line end to be continued: the chain cannot reach back
        if count + length >= need:
            return end - (need - count)
        count += length
        if start == 0 or text[start - 1] != "\n":
            return start
        later = start
        end = start - (2 if text.endswith("\r\n", 0, start) else 1)
        trailing = False
