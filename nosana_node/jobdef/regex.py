"""``results`` regexes are written for JavaScript; this compiles them for Python's ``re``.

The two dialects agree on almost everything job definitions use (classes, quantifiers,
lookahead, fixed-width lookbehind). JavaScript's named groups ``(?<name>…)`` and back-references
``\\k<name>`` are rewritten to Python's ``(?P<name>…)`` and ``(?P=name)``; ``\\d`` matches ASCII
digits only, as in JavaScript.
"""

from __future__ import annotations

import re

_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?![=!])([A-Za-z_$][\w$]*)>")
_BACKREF = re.compile(r"\\k<([A-Za-z_$][\w$]*)>")


class RegexError(ValueError):
    """A pattern that cannot be compiled; the message says why."""


def compile_js(pattern: str) -> re.Pattern[str]:
    """Compile a JavaScript-style regex; :class:`RegexError` when it is not valid here."""
    translated = _BACKREF.sub(r"(?P=\1)", _NAMED_GROUP.sub(r"(?P<\1>", pattern))
    try:
        return re.compile(translated, re.ASCII)
    except re.error as exc:
        raise RegexError(str(exc)) from None
