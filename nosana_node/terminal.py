"""Text from jobs and files made safe for the operator's terminal.

A job's output and the names in a pipeline file are written by strangers. Written as they are,
escape sequences in them would clear the operator's screen, set the window title, write the
clipboard (OSC 52), move the cursor or hide text. Rules, applied to everything the CLI shows:

- every control character (C0 but tab and newline, DEL, C1) and every bidirectional-formatting
  character is shown escaped (``\\x1b``, ``\\r``-as-``\\x0d``, ``\\u202e``), so a sequence loses
  its meaning and stays visible;
- SGR sequences (``ESC [ … m``: colours, bold …) are the one exception, by mode: kept for a
  terminal (``"keep"``), removed from plain output (``"strip"``), escaped in names and messages
  (``"escape"``).

What is stored (logs, results) keeps the bytes as they were; only what is shown changes.
Each character is examined once: the cost is linear in the text.
"""

from __future__ import annotations

import re
from typing import Literal

SgrMode = Literal["keep", "strip", "escape"]

#: An SGR sequence with a bounded parameter list (a longer one is escaped like any other).
_SGR = r"\x1b\[[0-9;:]{0,64}m"
#: C0 controls but tab and newline, DEL, C1 controls, and the bidi formatting characters.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"

_ANY = re.compile(_CONTROL)
_WITH_SGR = re.compile(f"({_SGR})|{_CONTROL}")


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _keep(match: re.Match[str]) -> str:
    return match.group(1) or _escaped(match.group())


def _strip(match: re.Match[str]) -> str:
    return "" if match.group(1) else _escaped(match.group())


def _escape(match: re.Match[str]) -> str:
    return _escaped(match.group())


_SUBS = {"keep": _keep, "strip": _strip}


def neutralise(text: str, sgr: SgrMode = "escape") -> str:
    """``text`` with every control sequence made inert (see the module rules for ``sgr``)."""
    if _ANY.search(text) is None:
        return text
    if sgr == "escape":
        return _ANY.sub(_escape, text)
    return _WITH_SGR.sub(_SUBS[sgr], text)


def has_controls(text: str) -> bool:
    """True when ``text`` holds a character that :func:`neutralise` would change."""
    return _ANY.search(text) is not None
