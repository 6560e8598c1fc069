"""Test content and the CIDs ``ipfs add`` (kubo's CIDv0 defaults) gives it.

Content is SHAKE-128 of a fixed label (reproducible anywhere). The CIDs were computed by
Debian's ``ipfs_cid`` (rust ipfs-unixfs) and by the JS IPFS node's ``add?cid-version=0``, and the
tests check them against both again (test_cid_tools.py, test_kubo.py).
"""

from __future__ import annotations

import hashlib
from functools import cache

CHUNK = 262_144
LABEL = b"nosana-storage-vectors"


@cache
def content(size: int) -> bytes:
    """``size`` reproducible bytes."""
    return hashlib.shake_128(LABEL).digest(size)


#: name -> (size, CIDv0). The empty and hello\n CIDs are the well-known ones.
VECTORS: dict[str, tuple[int, str]] = {
    "empty": (0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    "262143 bytes": (CHUNK - 1, "QmQ6GEduzff4dy6G5L9vgiF7vzN8jtWXXAbttPbZyYATrr"),
    "262144 bytes": (CHUNK, "QmYwjS88woXBo94kpiaEzo4U4wEZfaEStxqqPRs9yy9LPi"),
    "262145 bytes": (CHUNK + 1, "QmVJKBnMJVUiU2aY55QuNTg6s1pVnVDYd61Xob2KcM9Tka"),
    "174 chunks": (174 * CHUNK, "Qmf8ZvcCTqc7Xjh6JW9dpCdJoGvqA2tx5u3F27KToNQFRf"),
    "174 chunks + 1 byte": (174 * CHUNK + 1, "Qmc2SWzGCpwgQr2vLdmBTFrCEd4ayGAp5nGynkXQgZE3GP"),
    "175 chunks": (175 * CHUNK, "QmVMFvA6A2t9JDDcfQZLG7Ak99P5PD31PcxCDbTHqfHtQR"),
    "50 MiB": (50 << 20, "QmQPHDywnKFM5KBMrXy6o3nCKBYqV5DG9VkSSvFNF5w83X"),
}
HELLO = (b"hello\n", "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")


def vector_content(name: str) -> bytes:
    return content(VECTORS[name][0])
