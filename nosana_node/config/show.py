"""The effective configuration as rows (key, value shown, source, meaning), secrets masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nosana_node.config.load import LoadedConfig
from nosana_node.config.schema import SECTIONS, SETTINGS, get
from nosana_node.errors import UserInputError
from nosana_node.secrets.masking import MASK
from nosana_node.secrets.value import Secret


@dataclass(frozen=True)
class Row:
    key: str
    shown: str  # for people: sizes and durations with units, secrets masked
    value: Any  # for JSON: the plain value, secrets masked
    source: str
    doc: str


def rows(loaded: LoadedConfig, only: list[str] | None = None) -> list[Row]:
    """One row per setting (and per config-backend secret), in schema order."""
    out: list[Row] = []
    for s in SETTINGS:
        if s.key == "secrets":
            continue
        value = get(loaded.config, s.key)
        secret = s.key in loaded.secret_keys
        if secret:
            shown = MASK if value else "-"
            plain: Any = MASK if value else None
        else:
            shown = s.kind.show(value)
            plain = s.kind.plain(value)
        out.append(Row(s.key, shown, plain, str(loaded.sources[s.key]), s.doc))
    secrets_doc = next(s.doc for s in SETTINGS if s.key == "secrets")
    refs = dict(loaded.secret_sources)
    for path, entry in loaded.config.secrets.items():
        for key, value in entry.items() if isinstance(entry, dict) else [(None, entry)]:
            ref = f"{path}#{key}" if key is not None else path
            refs.setdefault(ref, "")
            source = str(refs[ref]) if refs[ref] else str(loaded.sources["secrets"])
            set_ = isinstance(value, Secret)
            out.append(
                Row(f"secrets.{ref}", MASK if set_ else "-", MASK if set_ else None, source, secrets_doc)
            )
    if only:
        wanted = [k.strip() for k in only]
        known = set(SECTIONS) | {"secrets"}
        for k in wanted:
            if k not in known and not any(r.key == k for r in out):
                raise UserInputError(f"config show: unknown key {k!r} (try `nosana-node config show`)")
        out = [r for r in out if any(r.key == k or r.key.startswith(k + ".") for k in wanted)]
    return out
