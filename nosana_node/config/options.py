"""The global configuration options of the command line (``--config``, ``--profile``, ``--set``).

Kept free of heavy imports: the CLI root builds one of these for every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigOptions:
    """Which configuration to load: a file, a profile and ``key=value`` overrides (flags)."""

    config: Path | None = None
    profile: str | None = None
    overrides: tuple[str, ...] = ()


_current = ConfigOptions()


def remember(options: ConfigOptions) -> ConfigOptions:
    """Keep the options the CLI root was given, for code that has no context at hand."""
    global _current
    _current = options
    return options


def current() -> ConfigOptions:
    """The options the CLI root was given in this process (none outside the CLI)."""
    return _current


def from_context(ctx: object) -> ConfigOptions:
    """The options given to the CLI root (a typer/click context), else :func:`current`."""
    find_root = getattr(ctx, "find_root", None)
    obj = find_root().obj if find_root is not None else None
    return obj if isinstance(obj, ConfigOptions) else _current
