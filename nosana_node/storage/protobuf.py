"""The little of Protocol Buffers that dag-pb and UnixFS need: varints and length-delimited fields.

Encoding writes fields in the order given (dag-pb's canonical order is the caller's business).
Decoding is strict: truncated varints, lengths past the end, varints over 10 bytes and wire types
other than 0 (varint) and 2 (length-delimited) raise :class:`ProtobufError`.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, LENGTH = 0, 2


class ProtobufError(ValueError):
    """Bytes that are not a well-formed message."""


_SMALL = [bytes((i,)) for i in range(128)]


def varint(n: int) -> bytes:
    """``n`` (>= 0) as an unsigned LEB128 varint."""
    if 0 <= n < 128:
        return _SMALL[n]
    if n < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field: int, wire: int) -> bytes:
    """The tag of field number ``field`` with wire type ``wire``."""
    return varint(field << 3 | wire)


def uint_field(field: int, value: int) -> bytes:
    """A varint field."""
    return key(field, VARINT) + varint(value)


def bytes_field(field: int, value: bytes) -> bytes:
    """A length-delimited field (bytes, string or an embedded message)."""
    return key(field, LENGTH) + varint(len(value)) + value


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    end = len(buf)
    for _ in range(10):
        if pos >= end:
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise ProtobufError("varint longer than 10 bytes")


def fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Each ``(field number, wire type, value)`` of a message, in order; length-delimited values
    are memoryviews into ``buf`` (no copies)."""
    view = memoryview(buf)
    pos, end = 0, len(view)
    while pos < end:
        tag, pos = read_varint(view, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(view, pos)
            yield number, wire, value
        elif wire == LENGTH:
            size, pos = read_varint(view, pos)
            if pos + size > end:
                raise ProtobufError("length-delimited field runs past the end")
            yield number, wire, view[pos : pos + size]
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
