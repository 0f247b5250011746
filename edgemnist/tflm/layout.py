"""What the generated ``model_data.cc`` / ``model_data.h`` pair holds, described once.

:class:`ModelData` names every symbol both files state, the one spelling of every line the writer
(:mod:`edgemnist.tflm.writer`) writes and the reader (:mod:`edgemnist.tflm.reader`) accepts, and the header's
constants (:class:`Constant`: symbol, C type, the field it holds). :data:`MODEL_DATA` is the description edgemnist
writes; writer and reader take it as an argument, so a changed description changes both::

    alignas(16) const unsigned char g_edgemnist_model_data[] = {     // array_open()
      0x1c, 0x00, ...,                                               // byte_line(): bytes_per_line bytes
    };
    const unsigned int g_edgemnist_model_data_len = 423192;         // length_line(): plain decimal
    constexpr std::size_t kEdgemnistTensorArenaSize = 9936;          // model_data.h: Constant.render()
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from edgemnist.fileio import sha256_bytes
from edgemnist.tflm.arena import ARENA_ALIGNMENT

#: A header larger than this is not ours (ours is ~2 KB); it is ignored, not read.
MAX_HEADER_BYTES = 1 << 16


def c_float(x: float) -> str:
    """The one spelling of a float constant: float32, 9 significant digits, ``f`` suffix."""
    return f"{float(np.float32(x)):.9g}f"


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
        return f"constexpr {self.ctype} {self.symbol} = {c_float(value) if self.is_float else int(value)};"

    def parse_line(self, line: str):
        """The value ``line`` states for this constant when it is written exactly as ``render`` writes it,
        else None (one spelling per constant: ``0x10``, ``16u``, ``+16`` or ``1.6e1f`` are not ``16``)."""
        m = re.fullmatch(rf"constexpr {re.escape(self.ctype)} {re.escape(self.symbol)} = (-?[0-9][0-9.e+-]*f?);", line)
        if m is None:
            return None
        text = m.group(1)
        try:
            value = float(text[:-1]) if self.is_float and text.endswith("f") else int(text)
        except ValueError:
            return None
        return value if self.render(value) == line else None


ARENA_SYMBOL = "kEdgemnistTensorArenaSize"

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
class ModelData:
    """The symbols and line spellings of a model_data.cc / model_data.h pair."""

    array_symbol: str = "g_edgemnist_model_data"
    length_symbol: str = "g_edgemnist_model_data_len"
    #: The symbol both files state, so a model_data.h from another export fails to compile (static_assert).
    model_id_symbol: str = "kEdgemnistModelId"
    header_name: str = "model_data.h"
    alignment: int = ARENA_ALIGNMENT
    bytes_per_line: int = 12
    constants: tuple[Constant, ...] = HEADER_CONSTANTS

    @property
    def arena_symbol(self) -> str:
        return self.constants[0].symbol

    # ---- model_data.cc, line by line: each spelling and the pattern the reader matches it with

    def array_open(self) -> str:
        return f"alignas({self.alignment}) const unsigned char {self.array_symbol}[] = {{"

    def byte_lines(self, data: bytes) -> list[str]:
        hexed = [f"0x{b:02x}" for b in data]
        n = self.bytes_per_line
        return ["  " + ", ".join(hexed[i : i + n]) + "," for i in range(0, len(hexed), n)]

    @property
    def byte_line(self) -> re.Pattern:
        """A line of bytes: ``  0x1c, 0x00,`` (at most ``bytes_per_line`` bytes, lowercase hex)."""
        return re.compile(r"  (?:0x[0-9a-f]{2}, ){0,%d}0x[0-9a-f]{2}," % (self.bytes_per_line - 1))  # noqa: UP031

    array_close = "};"

    def length_line(self, n: int) -> str:
        return f"const unsigned int {self.length_symbol} = {n};"

    @property
    def length_pattern(self) -> re.Pattern:
        return re.compile(rf"const unsigned int {re.escape(self.length_symbol)} = (0|[1-9][0-9]{{0,9}});")

    def assert_lines(self, model_bytes: bytes) -> tuple[str, str]:
        return (
            f"static_assert({self.model_id_symbol} == {model_id(model_bytes)},",
            f'              "{self.header_name} was generated for another model; re-export both files together");',
        )

    @property
    def assert_pattern(self) -> re.Pattern:
        return re.compile(rf"static_assert\({re.escape(self.model_id_symbol)} == (0x[0-9a-f]{{16}}ULL),")

    assert_message_pattern = re.compile(r" +\"[^\"\\]*\"\);")
    include_pattern = re.compile(r'#include "[A-Za-z0-9_.]+\.h"')

    # ---- model_data.h

    def model_id_line(self, model_bytes: bytes) -> str:
        return f"constexpr unsigned long long {self.model_id_symbol} = {model_id(model_bytes)};"

    @property
    def model_id_pattern(self) -> re.Pattern:
        return re.compile(rf"constexpr unsigned long long {re.escape(self.model_id_symbol)} = (0x[0-9a-f]{{16}}ULL);")

    #: The comment lines of the header the reader checks (model sha256, arena size and its measured minimum).
    sha_comment = re.compile(r"^// model: .*sha256 ([0-9a-f]{64})$", re.MULTILINE)
    arena_comment = re.compile(r"^// arena: +(0|[1-9][0-9]{0,9}) bytes = (0|[1-9][0-9]{0,9}) \(", re.MULTILINE)


#: The pair edgemnist writes.
MODEL_DATA = ModelData()
ARRAY_SYMBOL = MODEL_DATA.array_symbol
LENGTH_SYMBOL = MODEL_DATA.length_symbol
MODEL_ID_SYMBOL = MODEL_DATA.model_id_symbol
HEADER_NAME = MODEL_DATA.header_name
BYTES_PER_LINE = MODEL_DATA.bytes_per_line


def model_id(model_bytes: bytes) -> str:
    """The first 64 bits of the model's sha256, as a C++ literal both generated files state."""
    return f"0x{sha256_bytes(model_bytes)[:16]}ULL"
