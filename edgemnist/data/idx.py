"""The IDX file format (what MNIST ships as): parse a payload against the file it must be, gzip or raw.

``np.frombuffer`` on the verified bytes is exact and zero-copy. The ``mnist`` package's ``parse_idx`` is not
used: it reads through ``array.array`` with a copy and byte swap, does not notice a truncated dimension header,
and the raw payload bytes are needed for the hash anyway.

A file that does not parse (truncated, bad magic, wrong dimensions, broken gzip) is *corrupted*; a well-formed
file whose SHA-256 differs is *another file* (another dataset of the same shape, or an altered copy), and the
message says which set of files was expected.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemnist.errors import DataError
from edgemnist.fileio import sha256_bytes

#: No MNIST file is larger, compressed or not; refuse to read or inflate anything bigger.
MAX_COMPRESSED_BYTES = 64 << 20


@dataclass(frozen=True)
class IdxFile:
    """One expected IDX file: its name, shape and the SHA-256 of its decompressed payload (header included).
    ``dataset``: the set of files it belongs to, named in the message when a well-formed file differs."""

    name: str
    shape: tuple[int, ...]
    sha256: str
    dataset: str = "MNIST"

    @property
    def magic(self) -> int:
        return 0x0800 + len(self.shape)  # unsigned byte data, ndim dimensions


def idx_header(spec: IdxFile) -> bytes:
    return struct.pack(f">I{len(spec.shape)}I", spec.magic, *spec.shape)


def _dims(payload: bytes, spec: IdxFile, origin: str) -> tuple[int, ...]:
    """The dimensions an IDX payload of ``spec``'s kind (magic, rank) states; DataError when it is not one."""
    ndim = len(spec.shape)
    header_len = 4 + 4 * ndim
    if len(payload) < header_len:
        raise DataError(f"{origin}: truncated: {len(payload)} bytes, shorter than the {header_len}-byte IDX header")
    magic = struct.unpack(">I", payload[:4])[0]
    if magic != spec.magic:
        raise DataError(
            f"{origin}: bad magic number 0x{magic:08x}, expected 0x{spec.magic:08x} "
            f"(unsigned-byte IDX with {ndim} dimension{'s' if ndim > 1 else ''}); is this {spec.name}?"
        )
    return struct.unpack(f">{ndim}I", payload[4:header_len])


def _check_length(payload: bytes, dims: tuple[int, ...], origin: str) -> None:
    expected = 4 + 4 * len(dims) + int(np.prod(dims, dtype=np.int64))
    if len(payload) != expected:
        what = "truncated" if len(payload) < expected else "has trailing bytes"
        raise DataError(f"{origin}: {what}: {len(payload)} bytes, expected {expected}")


def parse_any(payload: bytes, spec: IdxFile, *, origin: str) -> tuple[np.ndarray, str]:
    """Decode an uncompressed IDX payload of ``spec``'s kind (its magic and rank) with whatever dimensions it
    states, at least one item: ``(array, sha256 of the payload)``. No hash is checked: another dataset in the
    same format parses, and the caller says what its sizes must be."""
    dims = _dims(payload, spec, origin)
    if not dims or 0 in dims:
        raise DataError(f"{origin}: dimensions {dims}: an IDX file with no items")
    _check_length(payload, dims, origin)
    arr = np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
    return arr, sha256_bytes(payload)


def parse_idx(payload: bytes, spec: IdxFile, *, origin: str) -> np.ndarray:
    """Decode an uncompressed IDX payload, checking it is exactly the file ``spec``."""
    ndim = len(spec.shape)
    header_len = 4 + 4 * ndim
    dims = _dims(payload, spec, origin)
    if dims != spec.shape:
        raise DataError(f"{origin}: dimensions {dims}, expected {spec.shape} ({spec.dataset}'s {spec.name})")
    _check_length(payload, dims, origin)
    digest = sha256_bytes(payload)
    if digest != spec.sha256:
        raise DataError(
            f"{origin}: a well-formed IDX file, but not {spec.dataset}'s {spec.name}: SHA-256 of its payload "
            f"{digest[:16]}..., {spec.dataset}'s {spec.sha256[:16]}...; edgemnist reads only the {spec.dataset} "
            f"files, checked against their published SHA-256 (another dataset, or an altered copy, is refused)"
        )
    arr = np.frombuffer(payload, dtype=np.uint8, offset=header_len).reshape(spec.shape)
    if ndim == 1 and int(arr.max()) > 9:
        raise DataError(f"{origin}: label {int(arr.max())} out of range 0-9")
    return arr


def inflate(raw: bytes, origin: str) -> bytes:
    """The payload of a gzip file, bounded by ``MAX_COMPRESSED_BYTES``."""
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = out.decompress(raw, MAX_COMPRESSED_BYTES)
        if out.unconsumed_tail:
            raise DataError(f"{origin}: decompresses to more than {MAX_COMPRESSED_BYTES} bytes; not an MNIST file")
        if not out.eof:
            raise DataError(f"{origin}: truncated gzip stream (file cut short?)")
        return data
    except zlib.error as exc:
        raise DataError(f"{origin}: corrupted gzip data ({exc})") from None


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path`` (the file ``what``) as stored, bounded in size; a DataError when unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_COMPRESSED_BYTES:
            raise DataError(f"{path}: {size} bytes, too large for {what}")
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def decode(raw: bytes, spec: IdxFile, *, origin: str) -> np.ndarray:
    """Stored bytes (gzip or raw IDX, told apart by content) as the file ``spec``."""
    payload = inflate(raw, origin) if raw[:2] == b"\x1f\x8b" else raw
    return parse_idx(payload, spec, origin=origin)


def read_payload(path: Path, spec: IdxFile) -> bytes:
    """The uncompressed IDX payload of ``path`` (gzip or raw, told apart by content), bounded in size."""
    raw = read_bytes(path, spec.name)
    return inflate(raw, str(path)) if raw[:2] == b"\x1f\x8b" else raw


def read_idx_file(path: Path, spec: IdxFile) -> np.ndarray:
    """Read ``path`` (gzip or raw IDX, told apart by content) as the file ``spec``."""
    return decode(read_bytes(path, spec.name), spec, origin=str(path))
