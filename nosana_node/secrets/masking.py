"""Masking of secret values in every text the node emits.

Each resolved secret is registered with a :class:`Masker`; from then on its raw form, each of
its lines, its base64 forms (standard and URL-safe, with and without padding) and its
URL-encoded forms are replaced by ``[MASKED]``. Values (and lines) shorter than
:data:`MIN_LENGTH` characters are not masked, to keep logs readable.

:class:`StreamMasker` masks a stream that arrives in chunks: it holds back the shortest tail
that could still be the start of a secret, so a value split across two chunks is still masked.
Masked variants never contain a newline, so text up to the last newline is always released.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "[MASKED]"
MIN_LENGTH = 4


def variants(value: str) -> set[str]:
    """Every form of ``value`` that is masked (none shorter than MIN_LENGTH, none with a newline)."""
    forms: set[str] = set()
    lines = [line.rstrip("\r") for line in value.split("\n")]
    forms.update(lines)
    raw = value.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode()
        forms.update({text, text.rstrip("=")})
    forms.update({quote(value, safe=""), quote_plus(value, safe="")})
    return {f for f in forms if len(f) >= MIN_LENGTH and "\n" not in f}


class Masker:
    """A thread-safe set of secret values and the replacement of their forms in text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.longest = 0
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret value; later calls to :meth:`mask` hide it."""
        new = variants(value) - self._forms
        if not new:
            return
        with self._lock:
            self._forms |= new
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(f) for f in ordered))
            self.longest = len(ordered[0])

    def __bool__(self) -> bool:
        return self._pattern is not None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled alternation of every masked form, longest first."""
        return self._pattern

    def mask(self, text: str) -> str:
        """Return ``text`` with every registered form replaced by ``[MASKED]``."""
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def mask_obj(self, obj: object) -> object:
        """Mask every string inside a JSON-like structure (dicts, lists, strings)."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, dict):
            return {self.mask_obj(k): self.mask_obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.mask_obj(v) for v in obj]
        return obj

    def stream(self) -> StreamMasker:
        """A masker for one chunked stream (one per stdout/stderr of a container)."""
        return StreamMasker(self)


class StreamMasker:
    """Masks a chunked text stream, holding back a possible partial secret at the chunk end."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the text that is safe to release now (already masked)."""
        buf = self._pending + chunk
        pattern = self._masker.pattern
        if pattern is None:
            self._pending = ""
            return buf
        hold = self._masker.longest - 1
        newline = buf.rfind("\n")
        safe_end = max(len(buf) - hold, newline + 1, 0)
        cut = safe_end
        out: list[str] = []
        pos = 0
        for match in pattern.finditer(buf):
            if match.start() >= safe_end:
                break
            if match.end() > safe_end and match.end() == len(buf):
                # complete here, but a longer secret sharing this prefix may go on: keep it back
                cut = match.start()
                break
            out.append(buf[pos : match.start()])
            out.append(MASK)
            pos = match.end()
            cut = max(cut, pos)
        out.append(buf[pos:cut])
        self._pending = buf[cut:]
        return "".join(out)

    def flush(self) -> str:
        """Release (masked) whatever is still held back; call at the end of the stream."""
        rest, self._pending = self._pending, ""
        return self._masker.mask(rest)


_process_masker = Masker()


def process_masker() -> Masker:
    """The masker shared by the whole process: every resolved secret is registered here."""
    return _process_masker
