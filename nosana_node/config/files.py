"""Reading private files (keypairs, tokens, passwords) safely."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nosana_node.errors import ConfigError

#: Permission bits that make a private file unsafe: any access by group or others.
UNSAFE_BITS = stat.S_IRWXG | stat.S_IRWXO


def expand(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """``~`` expanded; a relative path taken relative to ``base`` (a directory) when given."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def check_private(path: Path, what: str) -> None:
    """Refuse a file that group or others can access (as ssh does for private keys)."""
    mode = path.stat().st_mode
    if mode & UNSAFE_BITS:
        raise ConfigError(
            f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"it holds a secret: run `chmod 600 {path}`"
        )


def read_private_file(path: Path, what: str = "private file") -> str:
    """The text of a private file; its trailing newline (if any) removed.

    Raises :class:`ConfigError` naming the file (never its content) when it is missing, not a
    regular file, unreadable, not UTF-8, or accessible by group or others.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    check_private(path, what)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")
