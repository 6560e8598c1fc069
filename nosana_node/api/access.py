"""Who may read a job's logs: the node's operator, and the job's poster.

Rules (the README's "Access" section says the same):

- **Operator**: ``Authorization: Bearer <token>``, the token in ``<home>/api-token`` (made on
  first start, 256 random bits, mode 600): whoever can read the node's home is its operator.
  Being on loopback grants nothing by itself.
- **Poster**: the job account's ``project`` (or its ``payer``) proves its key: it asks
  ``POST /jobs/{job}/challenge`` for a challenge (a random nonce bound to this node and this
  job, valid :data:`CHALLENGE_TTL` seconds, usable once), signs the challenge's ``message`` with
  its Solana keypair (ed25519) and sends ``Authorization: Nosana-Signature
  pubkey=<base58>,nonce=<hex>,signature=<base58>``. A nonce is spent by the first request that
  shows it, whatever the outcome.
- No credentials: 401. Bad token, unknown / expired / spent nonce, bad signature: 401. A valid
  signature by a key that is neither project nor payer of the job: 403.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nosana_node.errors import NosanaError

#: Seconds a challenge may be used after it was issued.
CHALLENGE_TTL = 60.0
#: Challenges waiting to be used, at most (older ones are forgotten first once expired).
MAX_CHALLENGES = 10_000
TOKEN_FILE = "api-token"
_PAIR = re.compile(r'\s*([a-z]+)\s*=\s*"?([A-Za-z0-9+/=_-]+)"?\s*')


class AccessDenied(NosanaError):
    """A request for a job's logs that is refused; ``status`` is the HTTP status (401 or 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BusyError(NosanaError):
    """Too many challenges are waiting (429)."""


@dataclass(frozen=True)
class Reader:
    """Who was let in: ``operator`` or ``poster`` (with its key)."""

    role: str
    key: str | None = None


@dataclass(frozen=True)
class Challenge:
    """What a poster signs."""

    job: str
    nonce: str
    expires: float
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "job": self.job,
            "nonce": self.nonce,
            "expires": self.expires,
            "message": self.message,
            "scheme": "Nosana-Signature",
        }


def challenge_message(node: str, job: str, nonce: str, expires: float) -> str:
    """The text a poster signs (UTF-8) to read job ``job``'s logs on node ``node``."""
    return f"nosana-node log access\nnode: {node}\njob: {job}\nnonce: {nonce}\nexpires: {int(expires)}\n"


def operator_token(home: Path) -> str:
    """The operator token of ``home`` (made now, mode 600, if there is none)."""
    path = home / TOKEN_FILE
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise NosanaError(f"{path} holds no usable token (delete it: a new one is made on start)")
    return token


def verify_signature(pubkey: str, signature: str, message: bytes) -> bool:
    """True when ``signature`` (base58) is ``pubkey``'s (base58) ed25519 signature of ``message``."""
    from solders.pubkey import Pubkey
    from solders.signature import Signature

    try:
        return Signature.from_string(signature).verify(Pubkey.from_string(pubkey), message)
    except (ValueError, TypeError):
        return False


def parse_signature_header(value: str) -> dict[str, str]:
    """``pubkey=…,nonce=…,signature=…`` → its parts (AccessDenied 401 when malformed)."""
    parts: dict[str, str] = {}
    for piece in value.split(","):
        match = _PAIR.fullmatch(piece)
        if match is None:
            raise AccessDenied(401, "malformed Nosana-Signature credentials (pubkey=…,nonce=…,signature=…)")
        parts[match.group(1)] = match.group(2)
    missing = {"pubkey", "nonce", "signature"} - parts.keys()
    if missing:
        raise AccessDenied(401, f"Nosana-Signature credentials lack {', '.join(sorted(missing))}")
    return parts


class Parties(Protocol):
    """Who posted a job: its ``project`` and ``payer`` keys (None: the chain has no such job)."""

    def __call__(self, job: str) -> set[str] | None: ...


class Access:
    """Checks ``Authorization`` headers for a job; challenges live in the event loop's thread."""

    def __init__(
        self,
        node: str,
        token: str,
        parties: Parties,
        *,
        clock: Callable[[], float] = time.time,
        ttl: float = CHALLENGE_TTL,
        max_challenges: int = MAX_CHALLENGES,
    ) -> None:
        self.node = node
        self._token = token
        self.parties = parties
        self.clock = clock
        self.ttl = ttl
        self.max_challenges = max_challenges
        self._challenges: OrderedDict[str, Challenge] = OrderedDict()

    # -- challenges ---------------------------------------------------------------------------------
    def issue(self, job: str) -> Challenge:
        """A new challenge for ``job`` (:class:`BusyError` when too many wait)."""
        now = self.clock()
        self._expire(now)
        if len(self._challenges) >= self.max_challenges:
            raise BusyError(f"{len(self._challenges)} challenges are waiting; try again in a minute")
        nonce = secrets.token_hex(16)
        expires = now + self.ttl
        challenge = Challenge(job, nonce, expires, challenge_message(self.node, job, nonce, expires))
        self._challenges[nonce] = challenge
        return challenge

    def _expire(self, now: float) -> None:
        while self._challenges:
            nonce, oldest = next(iter(self._challenges.items()))
            if oldest.expires > now:
                return
            del self._challenges[nonce]

    @property
    def waiting(self) -> int:
        """Challenges issued and not yet used or expired."""
        self._expire(self.clock())
        return len(self._challenges)

    # -- checks -------------------------------------------------------------------------------------
    def is_operator(self, authorization: str | None) -> bool:
        """True when ``authorization`` carries the operator token."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._token.encode()
        )

    def authenticate(self, authorization: str | None, job: str) -> Reader:
        """Who the credentials prove the reader is (:class:`AccessDenied` 401 otherwise); a
        poster still needs :meth:`authorize`. Quick: call it in the event loop."""
        if not authorization or not authorization.strip():
            raise AccessDenied(
                401, "a job's logs need credentials: the operator token, or a signed challenge of the poster"
            )
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            if self.is_operator(authorization):
                return Reader("operator")
            raise AccessDenied(401, "the operator token is wrong")
        if scheme.lower() != "nosana-signature":
            raise AccessDenied(
                401, f"unknown authorization scheme {scheme[:32]!r} (Bearer, Nosana-Signature)"
            )
        parts = parse_signature_header(value)
        challenge = self._challenges.pop(parts["nonce"], None)  # spent, whatever comes next
        if challenge is None:
            raise AccessDenied(401, "unknown or already used challenge; ask for a new one")
        if challenge.expires <= self.clock():
            raise AccessDenied(401, "the challenge expired; ask for a new one")
        if challenge.job != job:
            raise AccessDenied(401, "the challenge was issued for another job")
        if not verify_signature(parts["pubkey"], parts["signature"], challenge.message.encode()):
            raise AccessDenied(401, "the signature does not verify with that key")
        return Reader("poster", parts["pubkey"])

    def authorize(self, reader: Reader, job: str) -> Reader:
        """``reader`` if it may read job ``job``'s logs (:class:`AccessDenied` 403 otherwise). A
        poster's check may read the chain: call it off the event loop."""
        if reader.role == "operator":
            return reader
        posters = self.parties(job)
        if posters is None or reader.key not in posters:
            raise AccessDenied(403, f"{reader.key} did not post job {job}")
        return reader


class ChainParties:
    """:class:`Parties` from the chain: the job account's project and payer, remembered (a job's
    parties never change) for up to ``size`` jobs."""

    def __init__(self, read_job: Callable[[str], tuple[str, str] | None], size: int = 4096) -> None:
        self._read = read_job
        self._size = size
        self._known: OrderedDict[str, set[str]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, job: str) -> set[str] | None:
        with self._lock:
            known = self._known.get(job)
            if known is not None:
                self._known.move_to_end(job)
                return known
        found = self._read(job)
        if found is None:
            return None
        self.remember(job, *found)
        return set(found)

    def remember(self, job: str, project: str, payer: str) -> None:
        """Record a job's parties seen elsewhere (the node reads the job account when it runs it)."""
        with self._lock:
            self._known[job] = {project, payer}
            while len(self._known) > self._size:
                self._known.popitem(last=False)
