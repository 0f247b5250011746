"""The ``model_data.cc`` / ``model_data.h`` pair: the int8 TFLite flatbuffer as a C array, with its constants.

``model_data.h`` states what a firmware needs (arena size and alignment, input/output scale and zero point); one
symbol table (``HEADER_CONSTANTS``) drives both writing the header (``render_header``) and reading it back
(``read_micro``)::

    alignas(16) const unsigned char g_edgemnist_model_data[] = {0x1c, 0x00, ...};
    const unsigned int g_edgemnist_model_data_len = 423192;
    constexpr std::size_t kEdgemnistTensorArenaSize = 9936;   // in model_data.h

Reading back is strict, streaming and bounded: ``read_array`` reads the .cc one line at a time and
refuses anything the exporter does not write -- a file larger than the largest model of this network could
need (``allowlist.MICRO_MAX_SOURCE_BYTES``, ~6.6 MB, checked before reading), a line longer than
``allowlist.MICRO_MAX_LINE``, non-ASCII text, a byte not spelled ``0x`` + two lowercase hex digits, an array
longer than ``allowlist.MICRO_MAX_MODEL_BYTES``, a ``static_assert`` model id that is not this array's, and a
length constant that is not a plain decimal equal to the array's length (``-1``, empty, ``0x67518``,
``423192u``, a missing constant: all refused). Memory stays at the model's size plus one line.
``read_header`` accepts a header only when every constant of ``HEADER_CONSTANTS`` appears exactly once, in
the one spelling ``Constant.render`` writes, with this array's sha256 and model id, and the arena its stated
minimum rounded up to the alignment; anything else makes it untrusted (the caller measures the arena).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemnist import allowlist, spec
from edgemnist.errors import ArtifactError
from edgemnist.fileio import sha256_bytes
from edgemnist.flatbuffer import check_tflite
from edgemnist.tflm.arena import ARENA_ALIGNMENT, MAX_ARENA_BYTES, MEASURED_WITH, round_up
from edgemnist.tflm.runner import Quant

ARRAY_SYMBOL = "g_edgemnist_model_data"
LENGTH_SYMBOL = "g_edgemnist_model_data_len"
ARENA_SYMBOL = "kEdgemnistTensorArenaSize"
HEADER_NAME = "model_data.h"
#: The symbol both files state, so a model_data.h from another export fails to compile (static_assert).
MODEL_ID_SYMBOL = "kEdgemnistModelId"
#: A header larger than this is not ours (ours is ~2 KB); it is ignored, not read.
MAX_HEADER_BYTES = 1 << 16
BYTES_PER_LINE = 12


@dataclass(frozen=True)
class Constant:
    """One ``constexpr`` of model_data.h: its C symbol and type, and the MicroModel field it holds."""

    symbol: str
    ctype: str
    field: str

    @property
    def is_float(self) -> bool:
        return self.ctype == "float"

    def render(self, value) -> str:
        return f"constexpr {self.ctype} {self.symbol} = {_c_float(value) if self.is_float else int(value)};"

    def parse_line(self, line: str):
        """The value ``line`` states for this constant when it is written exactly as ``render`` writes it,
        else None (one spelling per constant: ``0x10``, ``16u``, ``+16`` or ``1.6e1f`` are not ``16``)."""
        m = re.fullmatch(rf"constexpr {re.escape(self.ctype)} {self.symbol} = (-?[0-9][0-9.e+-]*f?);", line)
        if m is None:
            return None
        text = m.group(1)
        try:
            value = float(text[:-1]) if self.is_float and text.endswith("f") else int(text)
        except ValueError:
            return None
        return value if self.render(value) == line else None


#: Every constant of model_data.h, in the order it is written.
HEADER_CONSTANTS = (
    Constant(ARENA_SYMBOL, "std::size_t", "arena_bytes"),
    Constant("kEdgemnistTensorArenaAlignment", "std::size_t", "arena_alignment"),
    Constant("kEdgemnistInputSize", "int", "input_size"),
    Constant("kEdgemnistNumClasses", "int", "num_classes"),
    Constant("kEdgemnistInputScale", "float", "input_scale"),
    Constant("kEdgemnistInputZeroPoint", "int", "input_zero_point"),
    Constant("kEdgemnistOutputScale", "float", "output_scale"),
    Constant("kEdgemnistOutputZeroPoint", "int", "output_zero_point"),
)


@dataclass(frozen=True)
class MicroModel:
    """What a ``model_data.cc`` / ``model_data.h`` pair holds."""

    cc_path: Path
    header_path: Path
    model_bytes: bytes = field(repr=False)
    arena_bytes: int  # 0 when no trusted header states it
    arena_min_bytes: int
    arena_alignment: int
    input: Quant
    output: Quant
    num_classes: int = 10  # the model's output width, read from the array itself

    @property
    def flash_bytes(self) -> int:
        return len(self.model_bytes)

    @property
    def tflite_sha256(self) -> str:
        return sha256_bytes(self.model_bytes)


def _c_float(x: float) -> str:
    return f"{float(np.float32(x)):.9g}f"


def model_id(model_bytes: bytes) -> str:
    """The first 64 bits of the model's sha256, as a C++ literal both generated files state."""
    return f"0x{sha256_bytes(model_bytes)[:16]}ULL"


def render_header(
    *,
    model_bytes: bytes,
    arena_bytes: int,
    arena_min_bytes: int,
    input: Quant,
    output: Quant,
    source: str | None,
    source_sha256: str | None,
    num_classes: int | None = None,
) -> str:
    """``num_classes``: the model's output width (default: read from ``model_bytes``)."""
    from edgemnist import __version__

    if num_classes is None:
        num_classes = _classes_of(model_bytes)

    values = {
        "arena_bytes": arena_bytes,
        "arena_alignment": ARENA_ALIGNMENT,
        "input_size": spec.INPUT_SIZE,
        "num_classes": num_classes,
        "input_scale": input.scale,
        "input_zero_point": input.zero_point,
        "output_scale": output.scale,
        "output_zero_point": output.zero_point,
    }
    constants = "\n".join(c.render(values[c.field]) for c in HEADER_CONSTANTS)
    src = f"{source or 'the Keras model'}, sha256 {source_sha256 or 'unknown'}"
    return f"""\
// Generated by edgemnist {__version__}: the edgemnist MLP for TensorFlow Lite Micro. Do not edit.
//
// source:  {src}
// model:   full-integer int8 TFLite flatbuffer, {len(model_bytes)} bytes in flash, sha256 {sha256_bytes(model_bytes)}
//          (the model only: TFLM's own code, its kernels and the app take flash of their own)
// input:   int8 [1, {spec.INPUT_SIZE}], scale {float(input.scale):.9g}, zero point {input.zero_point}:
//          q = round(p / 255 / scale) + zero point; for a uint8 pixel p that is q = p - 128
// output:  int8 [1, {num_classes}], scale {float(output.scale):.9g}, zero point {output.zero_point}:
//          probability = (q - zero point) * scale; the predicted class is the argmax
// arena:   {arena_bytes} bytes = {arena_min_bytes} (the smallest arena that allocated and ran in
//          {MEASURED_WITH}) rounded up to {ARENA_ALIGNMENT}.
//          Declare it alignas({ARENA_ALIGNMENT}). A C++ MicroInterpreter may need a little less, optimized
//          kernels (e.g. CMSIS-NN) more: on the board, check AllocateTensors()'s status (arena_used_bytes()
//          leaves out Prepare's temporary peak and reads ~3 KB low).
#ifndef EDGEMNIST_MODEL_DATA_H_
#define EDGEMNIST_MODEL_DATA_H_

#include <cstddef>
#include <cstdint>

{constants}
// The model this header was generated for; model_data.cc checks it, so a header and an array from two
// different exports do not compile together.
constexpr unsigned long long {MODEL_ID_SYMBOL} = {model_id(model_bytes)};

// The TFLite flatbuffer; pass it to tflite::GetModel().
extern const unsigned char {ARRAY_SYMBOL}[];
extern const unsigned int {LENGTH_SYMBOL};

#endif  // EDGEMNIST_MODEL_DATA_H_
"""


def render_source(model_bytes: bytes, *, source_sha256: str | None) -> str:
    hexed = [f"0x{b:02x}" for b in model_bytes]
    lines = ("  " + ", ".join(hexed[i : i + BYTES_PER_LINE]) + "," for i in range(0, len(hexed), BYTES_PER_LINE))
    return (
        f"// Generated by edgemnist: the int8 MNIST MLP as a TFLite flatbuffer. Do not edit.\n"
        f"// source sha256: {source_sha256 or 'unknown'}\n"
        f"// model sha256:  {sha256_bytes(model_bytes)} ({len(model_bytes)} bytes)\n"
        f"// Constants (tensor arena size, input/output scale and zero point) are in {HEADER_NAME}.\n"
        f'#include "{HEADER_NAME}"\n\n'
        f"static_assert({MODEL_ID_SYMBOL} == {model_id(model_bytes)},\n"
        f'              "{HEADER_NAME} was generated for another model; re-export both files together");\n\n'
        f"alignas({ARENA_ALIGNMENT}) const unsigned char {ARRAY_SYMBOL}[] = {{\n"
        + "\n".join(lines)
        + f"\n}};\nconst unsigned int {LENGTH_SYMBOL} = {len(model_bytes)};\n"
    )


def parse_c_array(text: str, symbol: str = ARRAY_SYMBOL) -> bytes:
    """The bytes of the array in ``model_data.cc`` text already in memory, parsed as strictly as
    ``read_array`` (``symbol`` must be ``ARRAY_SYMBOL``: nothing else is ours)."""
    if symbol != ARRAY_SYMBOL:
        raise ArtifactError(f"only '{ARRAY_SYMBOL}' arrays are read, not {symbol!r}")
    return parse_text(text)


_OPEN = f"alignas({ARENA_ALIGNMENT}) const unsigned char {ARRAY_SYMBOL}[] = {{"
_BYTES = re.compile(r"  (?:0x[0-9a-f]{2}, )*0x[0-9a-f]{2},")
_LENGTH = re.compile(rf"const unsigned int {LENGTH_SYMBOL} = (0|[1-9][0-9]{{0,9}});")
_ASSERT = re.compile(rf"static_assert\({MODEL_ID_SYMBOL} == (0x[0-9a-f]{{16}}ULL),")
_ASSERT_MESSAGE = re.compile(r" +\"[^\"\\]*\"\);")
_INCLUDE = re.compile(r'#include "[A-Za-z0-9_.]+\.h"')


def _lines(cc_path: Path, fh):
    """(line number, text) of an ASCII file, each line at most MICRO_MAX_LINE characters."""
    number = 0
    while True:
        raw = fh.readline(allowlist.MICRO_MAX_LINE + 2)
        if not raw:
            return
        number += 1
        if len(raw.rstrip(b"\n")) > allowlist.MICRO_MAX_LINE:
            raise ArtifactError(
                f"{cc_path}: line {number} is longer than {allowlist.MICRO_MAX_LINE} characters; "
                f"not a model_data.cc written by edgemnist"
            )
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ArtifactError(
                f"{cc_path}: line {number} is not ASCII text; not a model_data.cc written by edgemnist"
            ) from None
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
            raise ArtifactError(
                f"{cc_path}: {size} bytes, larger than the C array of any model of this network "
                f"({allowlist.MICRO_MAX_SOURCE_BYTES} bytes at most)"
            )
        return _parse(cc_path, _lines(cc_path, fh))


def parse_text(text: str, origin: str = "the C array") -> bytes:
    """``read_array`` on text already in memory (tests, and a caller that has the text)."""
    if len(text) > allowlist.MICRO_MAX_SOURCE_BYTES:
        raise ArtifactError(
            f"{origin}: {len(text)} characters, larger than the C array of any model of this "
            f"network ({allowlist.MICRO_MAX_SOURCE_BYTES} at most)"
        )

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
                raise bad(
                    number,
                    f"the array holds more than {allowlist.MICRO_MAX_MODEL_BYTES} bytes, more than "
                    f"any model of this network",
                )
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
                raise bad(number, f"unexpected text {line[:60]!r} (no array '{ARRAY_SYMBOL}[] = {{' before it)")
        elif state == "assert-message":
            if not _ASSERT_MESSAGE.fullmatch(line):
                raise bad(number, "the static_assert's message is malformed")
            state = "preamble"
        elif state == "length":
            m = _LENGTH.fullmatch(line)
            if m is None:
                raise bad(
                    number,
                    f"'{LENGTH_SYMBOL}' must follow the array, as a plain decimal number of bytes (got {line[:60]!r})",
                )
            length, state = int(m.group(1)), "end"
        else:
            raise bad(number, f"unexpected text after '{LENGTH_SYMBOL}': {line[:60]!r}")
    if state in ("preamble", "assert-message"):
        raise ArtifactError(
            f"{cc_path}: no array '{ARRAY_SYMBOL}[] = {{...}}' found; expected a model_data.cc written by edgemnist"
        )
    if state == "bytes":
        raise ArtifactError(f"{cc_path}: the array '{ARRAY_SYMBOL}' is not closed; the file is truncated")
    if length is None:
        raise ArtifactError(f"{cc_path}: no '{LENGTH_SYMBOL} = <bytes>;' after the array; the file is truncated")
    if length != len(data):
        raise ArtifactError(f"{cc_path}: '{LENGTH_SYMBOL}' says {length} bytes but the array holds {len(data)}")
    data = bytes(data)
    if stated_id is not None and stated_id != model_id(data):
        raise ArtifactError(
            f"{cc_path}: the static_assert states model id {stated_id} but the array's is "
            f"{model_id(data)}; the file was edited"
        )
    return data


def header_path(cc_path: str | Path) -> Path:
    """The header of ``cc_path``: ``<stem>.h``, else a ``model_data.h`` beside it (a renamed copy)."""
    cc_path = Path(cc_path)
    own = cc_path.with_suffix(".h")
    return own if own.is_file() else cc_path.with_name(HEADER_NAME)


def read_header(h_path: str | Path, model_bytes: bytes) -> tuple[dict | None, str]:
    """({MicroModel field: value} for every constant, plus ``arena_min_bytes``; "") when ``h_path`` is a
    header edgemnist wrote for exactly ``model_bytes`` with every constant in its one spelling; else
    (None, why it is not trusted)."""
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
    by_symbol = {c.symbol: c for c in HEADER_CONSTANTS}
    values: dict = {}
    stated_id = None
    for line in text.splitlines():
        if line.startswith("//") or not line.startswith("constexpr"):
            if "kEdgemnist" in line and not line.startswith("//"):
                return None, f"a constant not in the exporter's form: {line[:60]!r}"
            continue
        symbol = line.split(" = ")[0].split(" ")[-1]
        if symbol == MODEL_ID_SYMBOL:
            m = re.fullmatch(rf"constexpr unsigned long long {MODEL_ID_SYMBOL} = (0x[0-9a-f]{{16}}ULL);", line)
            if m is None or stated_id is not None:
                return None, f"{MODEL_ID_SYMBOL} is not stated once in its one spelling"
            stated_id = m.group(1)
            continue
        constant = by_symbol.get(symbol)
        value = constant.parse_line(line) if constant is not None else None
        if value is None:
            return None, f"a constant not in the exporter's form: {line[:60]!r}"
        if constant.field in values:
            return None, f"{symbol} is stated twice"
        values[constant.field] = value
    missing = [c.symbol for c in HEADER_CONSTANTS if c.field not in values]
    if missing:
        return None, f"missing {', '.join(missing)}"
    if stated_id != model_id(model_bytes):
        return None, "it states another model's id"
    sha = re.search(r"^// model: .*sha256 ([0-9a-f]{64})$", text, re.MULTILINE)
    if sha is None or sha.group(1) != sha256_bytes(model_bytes):
        return None, "its comment states another model's sha256"
    least = re.search(r"^// arena: +(0|[1-9][0-9]{0,9}) bytes = (0|[1-9][0-9]{0,9}) \(", text, re.MULTILINE)
    arena, alignment = values["arena_bytes"], values["arena_alignment"]
    if least is None or int(least.group(1)) != arena:
        return None, f"its arena comment does not state {arena} bytes"
    values["arena_min_bytes"] = int(least.group(2))
    if not (
        alignment == ARENA_ALIGNMENT
        and 0 < arena <= MAX_ARENA_BYTES
        and arena == round_up(values["arena_min_bytes"], alignment)
    ):
        return None, f"arena {arena} is not its minimum {values['arena_min_bytes']} rounded up to {alignment}"
    if values["input_size"] != spec.INPUT_SIZE or values["num_classes"] != _classes_of(model_bytes):
        return None, "its tensor sizes are not this network's"
    if not all(math.isfinite(values[k]) and values[k] > 0 for k in ("input_scale", "output_scale")):
        return None, "a scale that is not a positive finite number"
    if not all(-128 <= values[k] <= 127 for k in ("input_zero_point", "output_zero_point")):
        return None, "a zero point outside [-128, 127]"
    return values, ""


def read_micro(cc_path: str | Path, header: str | Path | None = None) -> MicroModel:
    """Read a model_data.cc back, with the constants of its header (``header``, default ``header_path``).

    Both are parsed strictly and with bounded memory (module doc); the array must have the structure of a
    TFLite model of this network (``edgemnist.flatbuffer.check_tflite``). A stale, foreign or damaged header
    gives ``arena_bytes`` 0 and NaN scales (the caller then measures the arena itself).
    """
    cc_path = Path(cc_path)
    model_bytes = read_array(cc_path)
    check_tflite(model_bytes, f"{cc_path}: the array")
    num_classes = _classes_of(model_bytes, f"{cc_path}: the array")
    h_path = Path(header) if header is not None else header_path(cc_path)
    values, _why = read_header(h_path, model_bytes)
    if values is None:
        nan = float("nan")
        return MicroModel(
            cc_path,
            h_path,
            model_bytes,
            arena_bytes=0,
            arena_min_bytes=0,
            arena_alignment=ARENA_ALIGNMENT,
            input=Quant(nan, 0),
            output=Quant(nan, 0),
            num_classes=num_classes,
        )
    return MicroModel(
        cc_path,
        h_path,
        model_bytes,
        arena_bytes=values["arena_bytes"],
        arena_min_bytes=values["arena_min_bytes"],
        arena_alignment=values["arena_alignment"],
        input=Quant(values["input_scale"], values["input_zero_point"]),
        output=Quant(values["output_scale"], values["output_zero_point"]),
        num_classes=num_classes,
    )


def _classes_of(model_bytes: bytes, origin: str = "the model") -> int:
    """The output width of the TFLite model in ``model_bytes`` (``edgemnist.modelfacts``, the one reader)."""
    from edgemnist.modelfacts import parse_facts

    return parse_facts(model_bytes, origin).output_size
