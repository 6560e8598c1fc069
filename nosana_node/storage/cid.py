"""IPFS CIDv0: the base58 ``Qm…`` address of a dag-pb block, and the 32-byte digest kept on chain.

A CIDv0 is base58btc(``0x12 0x20`` + sha2-256(block)); the jobs program stores only the 32-byte
digest (``ipfs_job``, ``ipfs_result``; all zero means none). :meth:`Cid.parse` accepts ``Qm…``
(also as ``/ipfs/Qm…`` or ``ipfs://Qm…``) and refuses anything else with a
:class:`~nosana_node.storage.errors.CidError` that says what the text is: a CIDv1 (with its codec
and, for dag-pb over sha2-256, the equivalent ``Qm…``), another hash function, or no CID at all.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import based58

from nosana_node.storage.errors import CidError
from nosana_node.storage.protobuf import ProtobufError, read_varint

SHA2_256, DIGEST_SIZE = 0x12, 32
MULTIHASH_PREFIX = bytes((SHA2_256, DIGEST_SIZE))
CODECS = {0x55: "raw", 0x70: "dag-pb", 0x71: "dag-cbor", 0x0129: "dag-json", 0x0200: "json"}
HASHES = {
    0x11: "sha1",
    0x12: "sha2-256",
    0x13: "sha2-512",
    0x16: "sha3-256",
    0x1E: "blake3",
    0xB220: "blake2b-256",
}
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Cid:
    """A CIDv0: dag-pb, sha2-256. ``str(cid)`` is the ``Qm…`` form."""

    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_SIZE:
            raise CidError("a CIDv0 digest is 32 bytes (sha2-256)")

    @classmethod
    def of_block(cls, block: bytes | memoryview) -> Cid:
        """The CID of one encoded dag-pb block."""
        return cls.of_digest(hashlib.sha256(block).digest())

    @classmethod
    def of_digest(cls, digest: bytes) -> Cid:
        """The CID of a sha2-256 digest just computed (not checked: the hot path of hashing)."""
        cid = object.__new__(cls)
        object.__setattr__(cid, "digest", digest)
        return cid

    @classmethod
    def from_digest(cls, digest: bytes | bytearray | memoryview | list[int]) -> Cid:
        """The CID whose sha2-256 digest is ``digest`` (as the jobs program stores it)."""
        raw = bytes(digest)
        if len(raw) != DIGEST_SIZE:
            raise CidError(f"an on-chain CID digest is 32 bytes, not {len(raw)}")
        return cls(raw)

    @classmethod
    def from_chain(cls, digest: bytes | bytearray | memoryview | list[int]) -> Cid | None:
        """Like :meth:`from_digest`, but an all-zero digest (no document, no result) is None."""
        raw = bytes(digest)
        return None if raw == bytes(DIGEST_SIZE) else cls.from_digest(raw)

    @classmethod
    def parse(cls, text: str | Cid) -> Cid:
        """A CID from its text; raises :class:`CidError` (exit 2) naming what is wrong."""
        if isinstance(text, Cid):
            return text
        if not isinstance(text, str):
            raise CidError(f"expected a CID string, got {type(text).__name__}")
        clean = text.strip()
        for prefix in ("ipfs://", "/ipfs/"):
            if clean.startswith(prefix):
                clean = clean[len(prefix) :].rstrip("/")
        shown = clean if len(clean) <= 60 else clean[:57] + "..."
        if not clean:
            raise CidError("empty CID")
        if len(clean) > _MAX_TEXT:
            raise CidError(f"{shown!r} is not a CID (too long)")
        if clean.startswith("Qm"):
            return cls(_v0_digest(clean, shown))
        _explain_other(clean, shown)
        raise AssertionError("unreachable")

    @property
    def multihash(self) -> bytes:
        """``0x12 0x20`` + digest: the bytes a dag-pb link holds."""
        return MULTIHASH_PREFIX + self.digest

    def to_chain(self) -> bytes:
        """The 32 bytes the jobs program stores."""
        return self.digest

    def __str__(self) -> str:
        return based58.b58encode(self.multihash).decode()

    def __repr__(self) -> str:
        return f"Cid({self})"


def _v0_digest(text: str, shown: str) -> bytes:
    try:
        raw = based58.b58decode(text.encode())
    except ValueError:
        raise CidError(f"{shown!r} is not a CID (not base58)") from None
    if len(raw) != 34 or raw[:2] != MULTIHASH_PREFIX:
        raise CidError(f"{shown!r} is not a CIDv0 (not a sha2-256 multihash)")
    return raw[2:]


def _explain_other(text: str, shown: str) -> None:
    """Raise a CidError that says what ``text`` is, when it is not a CIDv0."""
    raw = _multibase(text)
    if raw is None:
        try:
            raw58 = based58.b58decode(text.encode())
        except ValueError:
            raw58 = None
        if raw58 and len(raw58) > 2 and raw58[1] == len(raw58) - 2:
            name = HASHES.get(raw58[0], f"0x{raw58[0]:x}")
            raise CidError(f"{shown!r} is a multihash with {name}, not a CIDv0 (sha2-256 Qm…)")
        raise CidError(f"{shown!r} is not a CID (a CIDv0 is base58 and starts with Qm)")
    try:
        version, pos = read_varint(raw, 0)
        codec, pos = read_varint(raw, pos)
        hash_code, pos = read_varint(raw, pos)
        size, pos = read_varint(raw, pos)
    except ProtobufError:
        raise CidError(f"{shown!r} is not a CID") from None
    if version != 1 or len(raw) - pos != size:
        raise CidError(f"{shown!r} is not a CID")
    codec_name = CODECS.get(codec, f"0x{codec:x}")
    hash_name = HASHES.get(hash_code, f"0x{hash_code:x}")
    hint = ""
    if codec == 0x70 and hash_code == SHA2_256 and size == DIGEST_SIZE:
        hint = f"; its CIDv0 form is {Cid(bytes(raw[pos:]))}"
    raise CidError(
        f"{shown!r} is a CIDv1 ({codec_name}, {hash_name}): only CIDv0 (dag-pb, sha2-256, Qm…) "
        f"addresses fit on chain{hint}"
    )


def _multibase(text: str) -> bytes | None:
    """The bytes of a multibase string in a base CIDv1 uses, else None."""
    prefix, body = text[0], text[1:]
    try:
        if prefix in "bB":
            body = body.upper()
            return base64.b32decode(body + "=" * (-len(body) % 8))
        if prefix == "z":
            return based58.b58decode(body.encode())
        if prefix in "fF":
            return bytes.fromhex(body)
        if prefix == "k":
            n = int(body, 36)
            return n.to_bytes((n.bit_length() + 7) // 8, "big")
        if prefix in "mu":
            return base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if prefix == "u" else None)
    except ValueError:
        return None
    return None
