"""Image references as the engine parses them: ``[host[:port]/]path[:tag][@digest]``.

:func:`check_reference` finds what the engine would refuse (``busy box:latest``,
``Ubuntu:22.04``) before anything runs, so a bad reference is bad input (exit 2) and not a
failed job. The grammar is the one of the distribution project's reference package.
"""

from __future__ import annotations

import re

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])"
_DOMAIN = re.compile(rf"{_HOST}(?::[0-9]+)?")
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
MAX_NAME = 255


def _split_domain(name: str) -> tuple[str | None, str]:
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        return first, rest
    return None, name


def check_reference(reference: str) -> str | None:
    """Why the engine would refuse ``reference`` as an image reference, or None when it is fine."""
    if not reference or reference != reference.strip() or any(c.isspace() for c in reference):
        return f"{reference!r} is not a valid image reference: it contains white space"
    rest, at, digest = reference.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return f"{reference!r} is not a valid image reference: bad digest {digest!r}"
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1 :]
    if tag is not None and not _TAG.fullmatch(tag):
        return f"{reference!r} is not a valid image reference: bad tag {tag!r}"
    if len(name) > MAX_NAME:
        return f"{reference!r} is not a valid image reference: the name is longer than {MAX_NAME}"
    domain, path = _split_domain(name)
    if domain is not None and not _DOMAIN.fullmatch(domain):
        return f"{reference!r} is not a valid image reference: bad registry host {domain!r}"
    if not _PATH.fullmatch(path):
        why = "repository names must be lowercase" if path.lower() != path else "bad repository name"
        return f"{reference!r} is not a valid image reference: {why} ({path!r})"
    return None
