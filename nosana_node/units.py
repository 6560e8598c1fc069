"""Sizes, durations and token amounts: the one place they are read from text and written for people.

Rules:
- a size is bytes: an integer, or a number with a binary unit ``k``, ``m``, ``g``, ``t``
  (``b``/``ib`` optional: ``512m``, ``2GiB``, ``1.5g``); a duration is seconds: a number, or a
  number with ``ms``, ``s``, ``m``, ``h`` or ``d`` (``90s``, ``10m``, ``1d``). Negative values
  are refused;
- parsers raise :class:`ValueError` whose message says what was expected (``a size (…)``),
  so callers can name the flag or key that held the text;
- :func:`size` / :func:`duration` are exact when the value is a whole number of a unit
  (``4 GiB``, ``1h``: what a setting was set to); :func:`approx_size` / :func:`elapsed` round
  for progress and summaries (``1.5 KiB``, ``2m03.4s``);
- token amounts are integers of base units, written exactly with their unit (:func:`nos`,
  :func:`xnos`, :func:`sol`: ``1.5 NOS``); ``-`` stands for an amount that is not known.
"""

from __future__ import annotations

import re

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
TIB = 1 << 40

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": KIB, "m": MIB, "g": GIB, "t": TIB}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

SIZE_EXPECTED = "a size (bytes, or a number with k, m, g or t: 512m, 2g)"
DURATION_EXPECTED = "a duration (seconds, or a number with ms, s, m, h or d: 90s, 10m, 1d)"


def parse_size(value: str | int) -> int:
    """``"512m"`` / ``"2GiB"`` / ``1048576`` → bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (match := _SIZE.match(value)):
        return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    raise ValueError(SIZE_EXPECTED)


def parse_duration(value: str | float) -> float:
    """``"90"`` / ``"10m"`` / ``"1.5h"`` / ``"500ms"`` / ``"1d"`` / ``90`` → seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "").lower()]
    raise ValueError(DURATION_EXPECTED)


def size(value: int) -> str:
    """Exact: ``4 GiB`` when ``value`` is a whole number of a unit, else ``1536 bytes``."""
    for unit, factor in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if value >= factor and value % factor == 0:
            return f"{value // factor} {unit}"
    return f"{value} bytes"


_APPROX_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def approx_size(value: int) -> str:
    """Rounded for people: ``512 B``, ``1.5 KiB``, ``3.2 GiB``, up to EiB (``16.0 EiB``)."""
    amount = float(value)
    for unit in _APPROX_UNITS:
        if amount < 1024 or unit == _APPROX_UNITS[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def duration(seconds: float) -> str:
    """Exact: ``1d``, ``2h``, ``10m`` when whole, else ``90s`` / ``0.5s``."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{int(seconds // factor)}{unit}"
    return f"{seconds:g}s"


def elapsed(seconds: float | None) -> str:
    """Rounded for progress: ``1.20s``, ``2m03.4s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


NOS_DECIMALS = 6
SOL_DECIMALS = 9


def amount(base_units: int, decimals: int, unit: str) -> str:
    """``1500000`` (6 decimals) -> ``1.5 NOS``."""
    whole, frac = divmod(abs(base_units), 10**decimals)
    text = f"{whole:,}" + (f".{frac:0{decimals}d}".rstrip("0") if frac else "")
    return f"{'-' if base_units < 0 else ''}{text} {unit}"


def nos(base_units: int | None) -> str:
    """NOS (6 decimals); ``-`` when not known."""
    return "-" if base_units is None else amount(base_units, NOS_DECIMALS, "NOS")


def xnos(base_units: int | None) -> str:
    """Staked NOS as markets weigh it (6 decimals)."""
    return "-" if base_units is None else amount(base_units, NOS_DECIMALS, "xNOS")


def sol(lamports: int) -> str:
    """SOL (9 decimals)."""
    return amount(lamports, SOL_DECIMALS, "SOL")
