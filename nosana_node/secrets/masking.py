"""Masking of secret values in every text the node emits.

Each resolved secret is registered with a :class:`Masker`; from then on these forms of it are
replaced by ``[MASKED]``:

- the value itself, the value without surrounding whitespace, and each line of a multi-line value;
- its JSON string form (quotes, backslashes and newlines escaped), as in result documents;
- its URL-encoded forms (``%20`` and ``+`` for spaces, ``/`` kept or encoded, upper- or
  lower-case hex);
- its base64 forms (standard and URL-safe, with and without padding), including the part of
  the encoding that stays the same when the value is embedded in a longer encoded text (as in
  ``base64("user:" + password)`` for HTTP basic auth), also when ``base64`` wrapped it over
  several lines (every line it touches is masked: :mod:`nosana_node.secrets.wrapped`).

Values (and forms) shorter than :data:`MIN_LENGTH` characters are not masked, to keep logs
readable: a two-letter secret would otherwise blank out every word that contains it.

:class:`StreamMasker` masks a stream that arrives in chunks: it holds back the shortest tail
that could still be the start of a secret, so a value split across two chunks is still masked.
Masked forms never contain a newline, so text up to the last newline is released, but for the
trailing lines a wrapped base64 form could still run through.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from nosana_node.secrets import wrapped

MASK = "[MASKED]"
MIN_LENGTH = 4

_ENCODERS = (base64.b64encode, base64.urlsafe_b64encode)
_HEX_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 forms of ``raw``, alone and as found inside a longer encoded text.

    Inside a longer text the value starts at byte offset 0, 1 or 2 of a 3-byte group; for each
    offset the characters that depend only on the value's bits are the same whatever surrounds it.
    """
    forms: set[str] = set()
    for encode in _ENCODERS:
        text = encode(raw).decode()
        forms.update({text, text.rstrip("=")})
        for shift in (1, 2):
            # the first group's leading characters mix in bits of the bytes before the value
            skip = (8 * shift + 5) // 6
            shifted = encode(bytes(shift) + raw).decode().rstrip("=")
            # the last group's trailing character mixes in bits of the bytes after the value
            if (shift + len(raw)) % 3:
                shifted = shifted[:-1]
            forms.add(shifted[skip:])
        if len(raw) % 3:
            forms.add(text.rstrip("=")[:-1])
    return forms


def _url_forms(value: str) -> set[str]:
    encoded = {quote(value, safe=""), quote(value), quote_plus(value, safe=""), quote_plus(value)}
    return encoded | {_HEX_ESCAPE.sub(lambda m: m.group().lower(), e) for e in encoded}


def variants(value: str) -> set[str]:
    """Every form of ``value`` that is masked (none shorter than MIN_LENGTH, none with a newline)."""
    forms: set[str] = set()
    for line in value.split("\n"):
        line = line.rstrip("\r")
        if len(line.strip()) >= MIN_LENGTH:
            escaped = {json.dumps(line)[1:-1], json.dumps(line, ensure_ascii=False)[1:-1]}
            forms.update({line, line.strip(), *escaped})
    for whole in {value, value.strip()}:
        if len(whole.strip()) < MIN_LENGTH:
            continue
        forms.add(json.dumps(whole)[1:-1])
        forms.add(json.dumps(whole, ensure_ascii=False)[1:-1])
        forms |= _url_forms(whole)
        forms |= _base64_forms(whole.encode())
    return {f for f in forms if len(f) >= MIN_LENGTH and "\n" not in f}


def _trie_source(forms: Iterable[str]) -> str:
    """A regex matching any of ``forms``, factored by common prefixes; at a position it matches
    the longest form that fits (as a longest-first alternation does), but tests each character
    once instead of once per form."""
    trie: dict[str, dict] = {}
    for form in forms:
        node = trie
        for ch in form:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        out: list[str] = []
        while True:
            end = "" in node
            kids = sorted((ch, sub) for ch, sub in node.items() if ch)
            if not kids:
                return "".join(out)
            if len(kids) == 1 and not end:  # a chain: no group needed
                out.append(re.escape(kids[0][0]))
                node = kids[0][1]
                continue
            parts = [re.escape(ch) + emit(sub) for ch, sub in kids]
            body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
            out.append(f"(?:{body})?" if end else body)
            return "".join(out)

    return emit(trie)


def compile_forms(forms: Iterable[str]) -> re.Pattern[str]:
    """The pattern of every masked form (a prefix trie; a flat longest-first alternation when the
    trie would nest too deeply for the regex compiler)."""
    forms = list(forms)
    try:
        return re.compile(_trie_source(forms))
    except (RecursionError, re.error):
        return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


class Masker:
    """A thread-safe set of secret values and the replacement of their forms in text.

    Values are global (:meth:`add`: the vault token, the keypair — kept for the life of the
    process) or scoped (:meth:`scope`: the secrets of one flow, forgotten when its scope
    closes, so a node that runs for months does not grow). :meth:`mask` hides both: global
    values and those of every open scope.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._scopes: dict[int, set[str]] = {}
        self._next_scope = 0
        self._pattern: re.Pattern[str] | None = None
        self._stale = False  # forms changed since the pattern was compiled
        self.longest = 0
        self._wrapped: re.Pattern[str] | None = None  # forms searched across line breaks too
        self.longest_wrapped = 0
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a global secret value; later calls to :meth:`mask` hide it."""
        self._add(self._forms, value)

    def _add(self, target: set[str], value: str) -> None:
        if not isinstance(value, str):
            value = str(value)
        forms = variants(value)
        with self._lock:
            new = forms - target
            if not new:
                return
            target |= new
            self.longest = max(self.longest, *(len(f) for f in new))
            self._stale = True  # compiled on next use: adding many values stays linear

    def scope(self, name: str = "") -> MaskScope:
        """A new scope: values added to it are masked until it is closed."""
        with self._lock:
            key = self._next_scope
            self._next_scope += 1
            self._scopes[key] = set()
        return MaskScope(self, key, name)

    def _close_scope(self, key: int) -> None:
        with self._lock:
            if self._scopes.pop(key, None):
                self._stale = True

    def _all_forms(self) -> set[str]:
        return self._forms.union(*self._scopes.values())

    @property
    def open_scopes(self) -> int:
        """How many scopes are open."""
        return len(self._scopes)

    def __bool__(self) -> bool:
        return bool(self._forms) or any(self._scopes.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._all_forms())

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled pattern of every masked form (None when nothing is registered)."""
        if self._stale:
            with self._lock:
                if self._stale:
                    forms = self._all_forms()
                    self._pattern = compile_forms(forms) if forms else None
                    self.longest = max((len(f) for f in forms), default=0)
                    encoded = {f for f in forms if wrapped.encodable(f)}
                    self._wrapped = compile_forms(encoded) if encoded else None
                    self.longest_wrapped = max((len(f) for f in encoded), default=0)
                    self._stale = False
        return self._pattern

    @property
    def wrapped_pattern(self) -> re.Pattern[str] | None:
        """The pattern of the forms made of base64 characters only (base64 forms, and values
        that look like them): also looked for across the line breaks of wrapped text."""
        return self._wrapped if self.pattern is not None else None

    def mask(self, text: str) -> str:
        """Return ``text`` with every registered form replaced by ``[MASKED]``."""
        pattern = self.pattern
        if pattern is None:
            return text
        groups = _groups(text, pattern, self.wrapped_pattern)
        return _replace(text, groups) if groups is not None else pattern.sub(MASK, text)

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


@dataclass
class _Group:
    """Overlapping matches: the pieces to replace, in order, and whether more text could
    make one of them longer."""

    start: int
    end: int
    pieces: list[tuple[int, int]]
    open_end: bool


def _groups(text: str, pattern: re.Pattern[str], encoded: re.Pattern[str] | None) -> list[_Group] | None:
    """The matches in ``text``, those across line breaks included, merged where they overlap.

    None when no form crosses a line break: plain ``pattern`` matching then says it all.
    """
    found = wrapped.hits(text, encoded) if encoded is not None else []
    if not found:
        return None
    units = [(((m.start(), m.end()),), m.end() == len(text)) for m in pattern.finditer(text)]
    units += [(hit.pieces, hit.open_end) for hit in found]
    groups: list[_Group] = []
    for unit, open_end in sorted(units, key=lambda pair: pair[0][0][0]):
        if groups and unit[0][0] < groups[-1].end:
            group = groups[-1]
            group.pieces.extend(unit)
            group.end = max(group.end, unit[-1][1])
            group.open_end = group.open_end or open_end
        else:
            groups.append(_Group(unit[0][0], unit[-1][1], list(unit), open_end))
    for group in groups:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(group.pieces):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        group.pieces = merged
    return groups


def _replace(text: str, groups: list[_Group]) -> str:
    out: list[str] = []
    pos = 0
    for group in groups:
        for start, end in group.pieces:
            out.append(text[pos:start])
            out.append(MASK)
            pos = end
    out.append(text[pos:])
    return "".join(out)


class MaskScope:
    """The secret values of one flow (or job): masked everywhere while open, dropped on close."""

    def __init__(self, masker: Masker, key: int, name: str) -> None:
        self.masker = masker
        self.name = name
        self._key = key
        self._closed = False

    def add(self, value: str) -> None:
        """Register a secret value of this scope."""
        if self._closed:
            raise RuntimeError(f"mask scope {self.name!r} is closed")
        with self.masker._lock:
            target = self.masker._scopes[self._key]
        self.masker._add(target, value)

    def __len__(self) -> int:
        return len(self.masker._scopes.get(self._key, ()))

    def mask(self, text: str) -> str:
        """Mask ``text`` (global values and those of every open scope)."""
        return self.masker.mask(text)

    def mask_obj(self, obj: object) -> object:
        """Mask every string inside a JSON-like structure."""
        return self.masker.mask_obj(obj)

    def close(self) -> None:
        """Forget this scope's values."""
        if not self._closed:
            self._closed = True
            self.masker._close_scope(self._key)

    def __enter__(self) -> MaskScope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamMasker:
    """Masks a chunked text stream, holding back a possible partial secret at the chunk end.

    The concatenation of every :meth:`feed` result and the final :meth:`flush` equals
    ``masker.mask`` of the whole stream.
    """

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
        hold = max(self._masker.longest - 1, 0)
        newline = buf.rfind("\n")
        # a match starting before safe_end lies wholly inside buf: a plain form cannot cross a
        # newline; a wrapped base64 form can, so the trailing lines it could reach are kept back
        safe_end = max(len(buf) - hold, newline + 1, 0)
        encoded = self._masker.wrapped_pattern
        if encoded is not None:
            safe_end = min(safe_end, wrapped.hold_from(buf, self._masker.longest_wrapped - 1))
        groups: Iterable[_Group] | None = _groups(buf, pattern, encoded)
        if groups is None:
            groups = (
                _Group(m.start(), m.end(), [(m.start(), m.end())], m.end() == len(buf))
                for m in pattern.finditer(buf)
            )
        cut = safe_end
        out: list[str] = []
        pos = 0
        for group in groups:
            if group.start >= safe_end:
                break
            if group.end > safe_end and group.open_end:
                # complete here, but a longer form sharing this prefix may go on: keep it back
                cut = group.start
                break
            for start, end in group.pieces:
                out.append(buf[pos:start])
                out.append(MASK)
                pos = end
            cut = max(cut, pos)
        out.append(buf[pos:cut])
        self._pending = buf[cut:]
        return "".join(out)

    @property
    def pending(self) -> int:
        """How many characters are held back."""
        return len(self._pending)

    def flush(self) -> str:
        """Release (masked) whatever is still held back; call at the end of the stream."""
        rest, self._pending = self._pending, ""
        return self._masker.mask(rest)


class MaskingFilter(logging.Filter):
    """A logging filter that masks the rendered message and traceback of every record."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        if self._masker:
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: keep the template, mask it
                message = str(record.msg)
            record.msg = self._masker.mask(message)
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self._masker.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


_process_masker = Masker()


def process_masker() -> Masker:
    """The masker shared by the whole process: global values, and a scope per running flow."""
    return _process_masker
