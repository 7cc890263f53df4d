"""The protobuf wire format, read by hand: the few messages lossdoctor decodes (TensorBoard's
``Event``, W&B's ``Record``) are walked field by field without generated classes.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Malformed", "fields", "varint"]


class Malformed(Exception):
    """The bytes are not a valid message."""


def varint(b: bytes, pos: int, end: int) -> tuple[int, int]:
    """The unsigned varint at `pos` (below `end`) and the position after it."""
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise Malformed
        byte = b[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def fields(b: bytes, pos: int, end: int) -> Iterable[tuple[int, int, int, int, int]]:
    """Yield ``(field number, wire type, value start, value end, int value)`` of a message
    (``int value`` is the varint or fixed value for those wire types, 0 otherwise)."""
    while pos < end:
        key, pos = varint(b, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed
        if wire == 0:
            start = pos
            value, pos = varint(b, pos, end)
            yield number, 0, start, pos, value
        elif wire == 1:
            if pos + 8 > end:
                raise Malformed
            yield number, 1, pos, pos + 8, 0
            pos += 8
        elif wire == 2:
            size, pos = varint(b, pos, end)
            if size > end - pos:
                raise Malformed
            yield number, 2, pos, pos + size, 0
            pos += size
        elif wire == 5:
            if pos + 4 > end:
                raise Malformed
            yield number, 5, pos, pos + 4, 0
            pos += 4
        else:  # groups (3, 4) are not used by these messages; 6, 7 are invalid
            raise Malformed
