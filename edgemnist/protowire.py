"""The protobuf wire format, read by hand: bounded, strict, no ``protobuf`` or ``onnx`` package.

Messages are read in place from the bytes (a length-delimited value is its ``(start, end)`` slice, never a
copy); every length is checked against the bytes that remain, so a hostile length costs nothing. What is not
well-formed protobuf raises :class:`Malformed`; a caller's schema check raises :class:`Refused` for well-formed
content it does not accept (``Malformed`` is a ``Refused``). The schema itself (field numbers, what is allowed)
is the caller's: :mod:`edgemnist.onnxcheck` for ONNX.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

# Wire types.
VARINT, I64, LEN, I32 = 0, 1, 2, 5


class Refused(Exception):
    """Well-formed protobuf, but not something this network's exports contain."""


class Malformed(Refused):
    """Not a well-formed protobuf message where ONNX expects one."""


def varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise Malformed("a varint runs past its message" if pos >= end else "a varint longer than 10 bytes")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int | tuple[int, int]]]:
    """(field number, wire type, value) of one message; a LEN value is its (start, end) slice."""
    pos = start
    while pos < end:
        key, pos = varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field number 0")
        if wire == VARINT:
            value, pos = varint(data, pos, end)
        elif wire == I64:
            if pos + 8 > end:
                raise Malformed("a 64-bit field runs past its message")
            value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
        elif wire == I32:
            if pos + 4 > end:
                raise Malformed("a 32-bit field runs past its message")
            value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
        elif wire == LEN:
            length, pos = varint(data, pos, end)
            if length > end - pos:
                raise Malformed(f"a {length}-byte field runs past its message")
            value, pos = (pos, pos + length), pos + length
        else:
            raise Malformed(f"wire type {wire} (groups are not used by ONNX)")
        yield number, wire, value


def message(data: bytes, span, *, singular: set[int] = frozenset(), what: str) -> dict[int, list]:
    """Every field of a message grouped by number; a field of ``singular`` may appear once at most."""
    out: dict[int, list] = {}
    for number, wire, value in fields(data, *span):
        out.setdefault(number, []).append((wire, value))
    for number in singular:
        if len(out.get(number, ())) > 1:
            raise Malformed(f"{what} states field {number} {len(out[number])} times")
    return out


def delimited(field: tuple[int, int | tuple[int, int]], what: str) -> tuple[int, int]:
    """The (start, end) of a field that must be length-delimited (a message, string or bytes)."""
    wire, value = field
    if wire != LEN:
        raise Malformed(f"{what} is malformed")
    return value


def string(data: bytes, field: list | None, what: str) -> str:
    if not field:
        return ""
    wire, span = field[-1]
    if wire != LEN:
        raise Malformed(f"{what} is not a string")
    try:
        return data[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not UTF-8") from None


def integer(field: list | None, what: str, default: int = 0) -> int:
    if not field:
        return default
    wire, value = field[-1]
    if wire != VARINT:
        raise Malformed(f"{what} is not an integer")
    return signed(value)


def integers(data: bytes, field: list | None, what: str, limit: int) -> list[int]:
    """A repeated int64/int32 field, packed or not; Refused when it holds more than ``limit`` values."""
    out = []
    for wire, value in field or ():
        if wire == VARINT:
            out.append(signed(value))
        elif wire == LEN:
            pos, end = value
            while pos < end:
                v, pos = varint(data, pos, end)
                out.append(signed(v))
                if len(out) > limit:
                    raise Refused(f"{what} holds more than {limit} values")
        else:
            raise Malformed(f"{what} is not a list of integers")
    return out


def count(data: bytes, field: list | None, width: int | None, what: str, limit: int) -> int:
    """How many values a repeated numeric field holds (``width`` bytes each when fixed, varints if None; at most
    ``limit`` varints are decoded)."""
    n = 0
    for wire, value in field or ():
        if wire == LEN:
            length = value[1] - value[0]
            if width is None:
                n += len(integers(data, [(wire, value)], what, limit))
            elif length % width:
                raise Malformed(f"{what} is not a whole number of values")
            else:
                n += length // width
        elif wire in (VARINT, I32, I64):
            n += 1
        else:
            raise Malformed(f"{what} is malformed")
    return n
