"""A strict, streaming, bounded-memory reader of the TFLite Micro pair ``model_data.cc`` / ``model_data.h``.

``read_array(cc_path)`` reads the array back one line at a time (never the whole text at once) and refuses
anything the exporter does not write: a file larger than the largest model of this network could need
(``allowlist.MICRO_MAX_SOURCE_BYTES``, ~6.6 MB, checked before reading), a line longer than
``allowlist.MICRO_MAX_LINE``, non-ASCII text, a byte not spelled ``0x`` + two lowercase hex digits, an
array longer than ``allowlist.MICRO_MAX_MODEL_BYTES``, a ``static_assert`` model id that is not this array's,
and a length constant that is not a plain decimal equal to the array's length (``-1``, empty, ``0x67518``,
``423192u`` and a missing constant are all refused). Memory stays at the model's size plus one line.

``read_header(h_path, model_bytes)`` parses every constant of the header strictly: each appears exactly
once, with the type and the one spelling the exporter writes (decimal integers as ``str(int)``, floats as
``%.9g`` + ``f``, the model id as ``0x`` + 16 hex digits + ``ULL``); the comment's sha256 must be this array's
and the arena its stated minimum rounded up to the alignment. Anything else makes the header untrusted
(``None`` and the reason): the caller then measures the arena itself instead of believing it.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from edgemnist import allowlist, spec
from edgemnist.errors import ArtifactError

ARRAY_SYMBOL = "g_edgemnist_model_data"
LENGTH_SYMBOL = "g_edgemnist_model_data_len"
ARENA_SYMBOL = "kEdgemnistTensorArenaSize"
MODEL_ID_SYMBOL = "kEdgemnistModelId"
ARENA_ALIGNMENT = 16
#: A header larger than this is not ours (ours is ~2 KB); it is not read.
MAX_HEADER_BYTES = 1 << 16
#: The largest arena a header may state (the exporter's bisection bound).
MAX_ARENA_BYTES = 64 << 20

_OPEN = f"alignas({ARENA_ALIGNMENT}) const unsigned char {ARRAY_SYMBOL}[] = {{"
_BYTES = re.compile(r"  (?:0x[0-9a-f]{2}, )*0x[0-9a-f]{2},")
_LENGTH = re.compile(rf"const unsigned int {LENGTH_SYMBOL} = (0|[1-9][0-9]{{0,9}});")
_ASSERT = re.compile(rf"static_assert\({MODEL_ID_SYMBOL} == (0x[0-9a-f]{{16}}ULL),")
_ASSERT_MESSAGE = re.compile(r" +\"[^\"\\]*\"\);")
_INCLUDE = re.compile(r'#include "[A-Za-z0-9_.]+\.h"')


def model_id(model_bytes: bytes) -> str:
    """The first 64 bits of the model's sha256, as the C++ literal both generated files state."""
    return f"0x{hashlib.sha256(model_bytes).hexdigest()[:16]}ULL"


def c_float(x: float) -> str:
    """The one spelling of a float constant: float32, ``%.9g``, an ``f`` suffix."""
    return f"{struct.unpack('<f', struct.pack('<f', float(x)))[0]:.9g}f"


def _lines(cc_path: Path, fh):
    """(line number, text) of an ASCII file, each line at most MICRO_MAX_LINE characters."""
    number = 0
    while True:
        raw = fh.readline(allowlist.MICRO_MAX_LINE + 2)
        if not raw:
            return
        number += 1
        if len(raw.rstrip(b"\n")) > allowlist.MICRO_MAX_LINE:
            raise ArtifactError(f"{cc_path}: line {number} is longer than {allowlist.MICRO_MAX_LINE} characters; "
                                f"not a model_data.cc written by edgemnist")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ArtifactError(f"{cc_path}: line {number} is not ASCII text; not a model_data.cc written by "
                                f"edgemnist") from None
        yield number, text.rstrip("\n").rstrip("\r")


def read_array(cc_path: str | Path) -> bytes:
    """The model bytes of a ``model_data.cc`` (see the module doc); ArtifactError for anything else."""
    cc_path = Path(cc_path)
    if not cc_path.is_file():  # a FIFO would block the open, /dev/zero never ends
        raise ArtifactError(f"{cc_path}: not a regular file; expected a model_data.cc")
    try:
        fh = open(cc_path, "rb")
    except OSError as exc:
        raise ArtifactError(f"{cc_path}: cannot read the C array ({exc.strerror or exc})") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > allowlist.MICRO_MAX_SOURCE_BYTES:
            raise ArtifactError(f"{cc_path}: {size} bytes, larger than the C array of any model of this network "
                                f"({allowlist.MICRO_MAX_SOURCE_BYTES} bytes at most)")
        return _parse(cc_path, _lines(cc_path, fh))


def parse_text(text: str, origin: str = "the C array") -> bytes:
    """``read_array`` on text already in memory (tests, and a caller that has the text)."""
    if len(text) > allowlist.MICRO_MAX_SOURCE_BYTES:
        raise ArtifactError(f"{origin}: {len(text)} characters, larger than the C array of any model of this "
                            f"network ({allowlist.MICRO_MAX_SOURCE_BYTES} at most)")

    def lines():
        for number, line in enumerate(text.split("\n"), 1):
            if len(line) > allowlist.MICRO_MAX_LINE:
                raise ArtifactError(f"{origin}: line {number} is longer than {allowlist.MICRO_MAX_LINE} characters")
            if not line.isascii():
                raise ArtifactError(f"{origin}: line {number} is not ASCII text")
            yield number, line.rstrip("\r")

    return _parse(Path(origin), lines())


def _parse(cc_path: Path, lines) -> bytes:
    def bad(number: int, what: str) -> ArtifactError:
        return ArtifactError(f"{cc_path}: line {number}: {what}; expected a model_data.cc written by edgemnist")

    data = bytearray()
    state = "preamble"
    stated_id = length = None
    read = 0
    for number, line in lines:
        read += len(line) + 1
        if read > allowlist.MICRO_MAX_SOURCE_BYTES:  # the file grew while it was read
            raise bad(number, f"more than {allowlist.MICRO_MAX_SOURCE_BYTES} bytes")
        if state == "bytes":
            if line == "};":
                state = "length"
                continue
            if not _BYTES.fullmatch(line):
                raise bad(number, f"not a line of bytes written like '  0x1c, 0x00,' (got {line.strip()[:40]!r})")
            data += bytes.fromhex(line.replace("0x", "").replace(",", "").replace(" ", ""))
            if len(data) > allowlist.MICRO_MAX_MODEL_BYTES:
                raise bad(number, f"the array holds more than {allowlist.MICRO_MAX_MODEL_BYTES} bytes, more than "
                                  f"any model of this network")
            continue
        if not line.strip() or line.startswith("//"):
            continue
        if state == "preamble":
            m = _ASSERT.fullmatch(line)
            if m is not None and stated_id is None:
                stated_id, state = m.group(1), "assert-message"
            elif _INCLUDE.fullmatch(line):
                continue
            elif line == _OPEN:
                state = "bytes"
            else:
                raise bad(number, f"unexpected text {line[:60]!r}")
        elif state == "assert-message":
            if not _ASSERT_MESSAGE.fullmatch(line):
                raise bad(number, "the static_assert's message is malformed")
            state = "preamble"
        elif state == "length":
            m = _LENGTH.fullmatch(line)
            if m is None:
                raise bad(number, f"'{LENGTH_SYMBOL}' must follow the array, as a plain decimal number of bytes "
                                  f"(got {line[:60]!r})")
            length, state = int(m.group(1)), "end"
        else:
            raise bad(number, f"unexpected text after '{LENGTH_SYMBOL}': {line[:60]!r}")
    if state in ("preamble", "assert-message"):
        raise ArtifactError(f"{cc_path}: no array '{ARRAY_SYMBOL}[] = {{...}}' found; expected a model_data.cc "
                            f"written by edgemnist")
    if state == "bytes":
        raise ArtifactError(f"{cc_path}: the array '{ARRAY_SYMBOL}' is not closed; the file is truncated")
    if length is None:
        raise ArtifactError(f"{cc_path}: no '{LENGTH_SYMBOL} = <bytes>;' after the array; the file is truncated")
    if length != len(data):
        raise ArtifactError(f"{cc_path}: '{LENGTH_SYMBOL}' says {length} bytes but the array holds {len(data)}")
    data = bytes(data)
    if stated_id is not None and stated_id != model_id(data):
        raise ArtifactError(f"{cc_path}: the static_assert states model id {stated_id} but the array's is "
                            f"{model_id(data)}; the file was edited")
    return data


@dataclass(frozen=True)
class Header:
    """The constants of a trusted ``model_data.h``."""

    arena_bytes: int
    arena_min_bytes: int
    arena_alignment: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int


_CONSTANT = re.compile(r"constexpr (std::size_t|int|float|unsigned long long) (kEdgemnist[A-Za-z]+) = ([^;]*);")
#: Every constant the header states: (C type, how its one spelling is parsed back).
_HEADER_CONSTANTS = {
    ARENA_SYMBOL: "std::size_t",
    "kEdgemnistTensorArenaAlignment": "std::size_t",
    "kEdgemnistInputSize": "int",
    "kEdgemnistNumClasses": "int",
    "kEdgemnistInputScale": "float",
    "kEdgemnistInputZeroPoint": "int",
    "kEdgemnistOutputScale": "float",
    "kEdgemnistOutputZeroPoint": "int",
    MODEL_ID_SYMBOL: "unsigned long long",
}
_INT = re.compile(r"-?(0|[1-9][0-9]{0,9})")


def read_header(h_path: str | Path, model_bytes: bytes) -> tuple[Header | None, str]:
    """(the header's constants, "") when ``h_path`` is a header edgemnist wrote for exactly ``model_bytes``
    with every constant in its one spelling; else (None, why it is not trusted)."""
    h_path = Path(h_path)
    if not h_path.is_file():  # missing, or a FIFO / device / folder: never opened
        return None, "no such regular file"
    try:
        with open(h_path, "rb") as fh:
            raw = fh.read(MAX_HEADER_BYTES + 1)
    except OSError as exc:
        return None, f"cannot read it ({exc.strerror or exc})"
    if len(raw) > MAX_HEADER_BYTES:
        return None, f"larger than {MAX_HEADER_BYTES} bytes"
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None, "not ASCII text"
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = _CONSTANT.fullmatch(line)
        if m is None:
            if line.startswith("constexpr") or "kEdgemnist" in line and not line.startswith("//"):
                return None, f"a constant not in the exporter's form: {line[:60]!r}"
            continue
        kind, name, value = m.groups()
        if name not in _HEADER_CONSTANTS or _HEADER_CONSTANTS[name] != kind:
            return None, f"unexpected constant {kind} {name}"
        if name in values:
            return None, f"{name} is stated twice"
        values[name] = value
    missing = [n for n in _HEADER_CONSTANTS if n not in values]
    if missing:
        return None, f"missing {', '.join(missing)}"
    ints = {}
    for name, kind in _HEADER_CONSTANTS.items():
        if kind in ("int", "std::size_t"):
            v = values[name]
            if not _INT.fullmatch(v) or kind == "std::size_t" and v.startswith("-"):
                return None, f"{name} = {v[:30]!r} is not a plain decimal"
            ints[name] = int(v)
    floats = {}
    for name in ("kEdgemnistInputScale", "kEdgemnistOutputScale"):
        v = values[name]
        try:
            x = float(v[:-1]) if v.endswith("f") else math.nan
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and x > 0 and c_float(x) == v):
            return None, f"{name} = {v[:30]!r} is not a positive float written like the exporter writes it"
        floats[name] = x
    if values[MODEL_ID_SYMBOL] != model_id(model_bytes):
        return None, "it states another model's id"
    sha = re.search(r"^// model: .*sha256 ([0-9a-f]{64})$", text, re.MULTILINE)
    if sha is None or sha.group(1) != hashlib.sha256(model_bytes).hexdigest():
        return None, "its comment states another model's sha256"
    least = re.search(r"^// arena: +(0|[1-9][0-9]{0,9}) bytes = (0|[1-9][0-9]{0,9}) \(", text, re.MULTILINE)
    arena, alignment = ints[ARENA_SYMBOL], ints["kEdgemnistTensorArenaAlignment"]
    if least is None or int(least.group(1)) != arena:
        return None, f"its arena comment does not state {arena} bytes"
    arena_min = int(least.group(2))
    if not (alignment == ARENA_ALIGNMENT and 0 < arena <= MAX_ARENA_BYTES
            and arena == -(-arena_min // alignment) * alignment):
        return None, f"arena {arena} is not its minimum {arena_min} rounded up to {alignment}"
    if ints["kEdgemnistInputSize"] != spec.INPUT_SIZE or ints["kEdgemnistNumClasses"] != spec.NUM_CLASSES:
        return None, "its tensor sizes are not this network's"
    zps = ints["kEdgemnistInputZeroPoint"], ints["kEdgemnistOutputZeroPoint"]
    if not all(-128 <= z <= 127 for z in zps):
        return None, "a zero point outside [-128, 127]"
    return Header(arena, arena_min, alignment, floats["kEdgemnistInputScale"], zps[0],
                  floats["kEdgemnistOutputScale"], zps[1]), ""
