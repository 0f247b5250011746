"""What the generated ``edgemnist_model.c`` / ``edgemnist_model.h`` pair holds, described once.

The writer (:mod:`edgemnist.ckernel.writer`) fills the templates (``templates/*.in``) from this description and
the strict reader (:mod:`edgemnist.ckernel.reader`) checks a pair against it, so a change here changes both:

- :class:`Layout` is a LIST of dense layers (:class:`LayerShape`: rows, inputs, ReLU or not, a weight
  :class:`Codec`) plus the :class:`ShiftMode` of the requantization shifts. Layer ``i`` (1-based) owns the arrays
  ``em_w<i>`` (packed weights), ``em_b<i>`` (int32 biases, padded rows), ``em_m<i>`` (int32 multipliers) and
  ``em_s<i>`` (shifts), each an :class:`Array` with its C type, length, value range and line spelling.
- :func:`fields` names every template placeholder with the one spelling the writer uses (a regex the reader
  matches) and how it is read back (integer, text, float32 or array); :meth:`Layout.derived` gives every value
  that follows from the shape (group counts, array lengths, MACs, flash bytes), which the writer writes and the
  reader requires.
- :data:`MACROS` are the header's ``#define``\\ s a firmware (and :func:`~edgemnist.ckernel.reader.read_header`)
  reads, each with the placeholder that fills it.

The templates hold any stack of 1 to ``MAX_LAYERS`` layers of any widths from 1 to ``allowlist.MAX_DIM``: the
main templates (``kernel.c.in``, ``header.h.in``) mark where the per-layer blocks go (``@{layers}``,
``@{buffers}``, ``@{calls}``) and :func:`expand` fills them from ``layer.c.in``, ``buffer.c.in`` and ``call.c.in``
with ``<i>`` the layer's index, so both the writer and the reader see one flat ``string.Template`` for a given
depth. A layout the templates cannot hold is refused by :meth:`Layout.problems` with a message that says what is
supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from string import Template

import numpy as np

from edgemnist import allowlist

SOURCE_NAME = "edgemnist_model.c"
HEADER_NAME = "edgemnist_model.h"
#: At most this many tool versions are copied from the source's manifest into the header.
MAX_TOOLS = 32
#: The deepest stack the templates are generated for (Dense+ReLU layers, then the Dense that feeds the softmax).
MAX_LAYERS = 8
#: At most this many weights in all (two layers of the allow-list's largest tensor).
MAX_WEIGHTS = 2 * allowlist.MAX_TENSOR_ELEMENTS
#: Fixed bytes of constant data besides the layers' arrays (the softmax exp table, 7 int32).
FIXED_CONST_BYTES = 28

INT8 = (-128, 127)
INT32 = (-(1 << 31), (1 << 31) - 1)
#: A requantization multiplier from TFLM's QuantizeMultiplier: 0 or in [2^30, 2^31) (``em_requant`` relies on it).
MULTIPLIER_RANGE = (1 << 30, (1 << 31) - 1)
#: TFLM's signed per-channel shift (left if positive), as QuantizeMultiplier gives it for a representable scale.
TFLM_SHIFT_RANGE = (-31, 30)
#: int32 arrays (biases, multipliers) are written this many values a line.
INT32_PER_LINE = 8
SHIFTS_PER_LINE = 24


def _place_int8(r: int, t: int) -> tuple[int, int]:
    return 4 * r + t, 0


def _place_int4(r: int, t: int) -> tuple[int, int]:
    return 4 * (r // 2) + r % 2 + 2 * (t // 2), t % 2


def _place_int2(r: int, t: int) -> tuple[int, int]:
    return r % 2 + 2 * (t // 2), t % 2 + 2 * (r // 2)


@dataclass(frozen=True)
class Codec:
    """How a layer's weights are stored: the C element type, the weight range, and the packing.

    Every codec groups alike: the inputs are padded with zero columns to a multiple of ``input_run`` (4); rows
    are taken ``rows_per_group`` (4) at a time (missing rows of the last group are zero); a group is a run of
    blocks, one per four inputs j, each block the 16 weights of rows 0..3 at inputs 4j..4j+3 in
    ``2 * bits`` bytes. Within a block, weight (row r, input 4j+t) is the ``bits``-wide two's-complement field
    ``field`` of byte ``byte`` (``(byte, field) = place(r, t)``; field k is bits k*bits .. k*bits+bits-1):

    - ``int8-grouped4``: byte 4r + t (row 0's four inputs, row 1's, row 2's, row 3's);
    - ``int4-grouped4`` (two weights a byte): byte 4(r/2) + r%2 + 2(t/2), nibble t%2, so a 32-bit word holds two
      rows and ``(word << 4) & 0xF0F0F0F0`` / ``word & 0xF0F0F0F0`` put 16 times the weights of inputs 0, 2 / 1, 3
      of each row in the bytes SXTB16 takes;
    - ``int2-grouped4`` (four weights a byte): byte r%2 + 2(t/2), field t%2 + 2(r/2), so the block is one word
      and ``(word << (6 - 2k)) & 0xC0C0C0C0`` gives 64 times field k of every byte.

    The fast paths take the first ``simd_inputs`` * (inputs // ``simd_inputs``) inputs, a plain loop the rest.
    ``lo``..``hi`` is the weight range, ``store_lo``..``store_hi`` the range of the stored C values.
    """

    name: str
    bits: int
    ctype: str
    lo: int
    hi: int
    store_lo: int
    store_hi: int
    per_line: int
    place: Callable[[int, int], tuple[int, int]]
    rows_per_group: int = 4
    input_run: int = 4
    simd_inputs: int = 16

    @property
    def values_per_byte(self) -> int:
        return 8 // self.bits

    @property
    def block_bytes(self) -> int:
        """Bytes of one block (four rows, four inputs)."""
        return 2 * self.bits

    def groups(self, rows: int) -> int:
        return -(-rows // self.rows_per_group)

    def padded_inputs(self, inputs: int) -> int:
        return -(-inputs // self.input_run) * self.input_run

    def packed_len(self, rows: int, inputs: int) -> int:
        """C array elements (bytes) of a (rows, inputs) layer."""
        return self.groups(rows) * self.rows_per_group * self.padded_inputs(inputs) // self.values_per_byte

    def _order(self) -> tuple[np.ndarray, np.ndarray]:
        """For the 16 weights of a block in (r, t) order: their byte and their bit offset."""
        spots = [self.place(r, t) for r in range(4) for t in range(4)]
        return np.array([b for b, _ in spots]), np.array([f * self.bits for _, f in spots])

    def _blocks(self, packed: np.ndarray, rows: int, n: int) -> np.ndarray:
        """The packed values as (groups, blocks, 4 rows, 4 inputs) weights."""
        g, pn = self.groups(rows), self.padded_inputs(n)
        raw = np.asarray(packed).astype(np.int64).reshape(g, pn // 4, self.block_bytes) & 0xFF
        byte, shift = self._order()
        mask, sign = (1 << self.bits) - 1, 1 << (self.bits - 1)
        vals = ((raw[:, :, byte] >> shift) & mask ^ sign) - sign
        return vals.reshape(g, pn // 4, 4, 4)

    def pack(self, w: np.ndarray) -> np.ndarray:
        """(rows, inputs) weights in ``lo``..``hi`` -> the C layout (zero rows and zero columns pad it)."""
        w = np.asarray(w)
        if w.size and (int(w.min()) < self.lo or int(w.max()) > self.hi):
            raise ValueError(f"{self.name} holds weights from {self.lo} to {self.hi}")
        rows, n = w.shape
        g, r, pn = self.groups(rows), self.rows_per_group, self.padded_inputs(n)
        padded = np.zeros((g * r, pn), np.int64)
        padded[:rows, :n] = w
        blocks = padded.reshape(g, r, pn // 4, 4).transpose(0, 2, 1, 3).reshape(g, pn // 4, 16)
        byte, shift = self._order()
        out = np.zeros((g, pn // 4, self.block_bytes), np.int64)
        for k in range(16):
            out[:, :, byte[k]] |= (blocks[:, :, k] & ((1 << self.bits) - 1)) << shift[k]
        out = out.reshape(-1)
        if self.bits == 8:
            return ((out ^ 0x80) - 0x80).astype(np.int8)
        return out.astype(np.uint8)

    def unpack_padded(self, packed: np.ndarray, rows: int, n: int) -> np.ndarray:
        """The packed values back as (groups * rows_per_group, padded inputs): the padding included."""
        g, r, pn = self.groups(rows), self.rows_per_group, self.padded_inputs(n)
        vals = self._blocks(packed, rows, n)
        return vals.transpose(0, 2, 1, 3).reshape(g * r, pn).astype(np.int8)

    def unpack(self, packed: np.ndarray, rows: int, n: int) -> np.ndarray:
        return self.unpack_padded(packed, rows, n)[:rows, :n]

    def padding_is_zero(self, packed: np.ndarray, rows: int, n: int) -> bool:
        full = self.unpack_padded(packed, rows, n)
        return not full[rows:].any() and not full[:, n:].any()


INT8_GROUPED4 = Codec("int8-grouped4", 8, "int8_t", *INT8, *INT8, per_line=24, place=_place_int8)
#: Signed nibbles, two weights a byte (the 4-bit levels -7..7).
INT4_GROUPED4 = Codec("int4-grouped4", 4, "uint8_t", -8, 7, 0, 255, per_line=24, place=_place_int4)
#: Signed 2-bit fields, four weights a byte (the 2-bit levels -2..1).
INT2_GROUPED4 = Codec("int2-grouped4", 2, "uint8_t", -2, 1, 0, 255, per_line=24, place=_place_int2)
#: Every weight codec by name.
CODECS = {c.name: c for c in (INT8_GROUPED4, INT4_GROUPED4, INT2_GROUPED4)}
#: Every weight codec by its width in bits.
CODECS_BY_BITS = {c.bits: c for c in CODECS.values()}


@dataclass(frozen=True)
class ShiftMode:
    """How the ``em_s<i>`` arrays store TFLM's shifts: signed (left if positive) or, when no channel shifts
    left, the right shift ``-shift`` as uint8 (the C then compiles the left-shift step out)."""

    left_shifts: bool
    ctype: str
    meaning: str
    lo: int
    hi: int

    def store(self, shifts) -> list[int]:
        """TFLM's signed shifts as this mode stores them."""
        return [int(s) for s in shifts] if self.left_shifts else [-int(s) for s in shifts]


SIGNED_SHIFTS = ShiftMode(True, "int8_t", "TFLM's shift (left if positive)", -31, 30)
RIGHT_SHIFTS = ShiftMode(False, "uint8_t", "the right shift, -shift: no channel shifts left", 0, 31)
SHIFT_MODES = (RIGHT_SHIFTS, SIGNED_SHIFTS)  # indexed by the EM_LEFT_SHIFTS macro (0 or 1)


def shift_mode(left_shifts: bool) -> ShiftMode:
    return SHIFT_MODES[int(bool(left_shifts))]


def spell_array(values, per_line: int) -> str:
    """The one spelling of a C array body: ``per_line`` decimal values a line, two spaces in, a comma after each."""
    vals = [str(int(v)) for v in values]
    return "\n".join("  " + ", ".join(vals[i : i + per_line]) + "," for i in range(0, len(vals), per_line))


def c_float(x: float) -> str:
    """The one spelling of a float32 constant (9 significant digits, ``f`` suffix)."""
    return f"{np.float32(x).item():.9g}f"


@dataclass(frozen=True)
class Array:
    """One constant array of the C file."""

    field: str  # the template placeholder of its body ("w1")
    symbol: str  # the C name ("em_w1")
    ctype: str
    length: int
    lo: int
    hi: int
    per_line: int

    def spell(self, values) -> str:
        return spell_array(values, self.per_line)


@dataclass(frozen=True)
class LayerShape:
    """One dense layer as the C holds it: ``rows`` outputs, ``inputs`` inputs, weights stored by ``codec``."""

    index: int  # 1-based: the arrays are em_w<index>, em_b<index>, em_m<index>, em_s<index>
    rows: int
    inputs: int
    relu: bool
    codec: Codec = INT8_GROUPED4

    @property
    def groups(self) -> int:
        return self.codec.groups(self.rows)

    @property
    def padded_rows(self) -> int:
        return self.groups * self.codec.rows_per_group

    @property
    def weight_len(self) -> int:
        return self.codec.packed_len(self.rows, self.inputs)

    @property
    def words(self) -> int:
        """Words of four inputs the fast dot product takes (a multiple of 4: whole runs of 16 inputs)."""
        return self.inputs // self.codec.simd_inputs * self.codec.simd_inputs // 4

    @property
    def tail(self) -> int:
        """Inputs after those, taken by the plain loop (fewer than 16)."""
        return self.inputs - 4 * self.words

    @property
    def stride(self) -> int:
        """Bytes of one group of rows in the weight array."""
        return self.codec.rows_per_group * self.codec.padded_inputs(self.inputs) // self.codec.values_per_byte

    @property
    def macs(self) -> int:
        return self.rows * self.inputs

    def weights(self) -> Array:
        c = self.codec
        i = self.index
        return Array(f"w{i}", f"em_w{i}", c.ctype, self.weight_len, c.store_lo, c.store_hi, c.per_line)

    def biases(self) -> Array:
        return Array(f"b{self.index}", f"em_b{self.index}", "int32_t", self.padded_rows, *INT32, INT32_PER_LINE)

    def multipliers(self) -> Array:
        return Array(f"m{self.index}", f"em_m{self.index}", "int32_t", self.rows, *INT32, INT32_PER_LINE)

    def shifts(self, mode: ShiftMode) -> Array:
        return Array(f"s{self.index}", f"em_s{self.index}", mode.ctype, self.rows, mode.lo, mode.hi, SHIFTS_PER_LINE)

    def arrays(self, mode: ShiftMode) -> tuple[Array, Array, Array, Array]:
        return (self.weights(), self.biases(), self.multipliers(), self.shifts(mode))

    @property
    def const_bytes(self) -> int:
        """Flash bytes of the layer's arrays (weights, int32 biases, int32 multipliers, one byte per shift)."""
        return self.weight_len + 4 * self.padded_rows + 5 * self.rows


@dataclass(frozen=True)
class Layout:
    """A generated pair: its dense layers (input to output) and how it stores shifts."""

    layers: tuple[LayerShape, ...]
    shifts: ShiftMode = RIGHT_SHIFTS

    @classmethod
    def of_widths(cls, widths, *, left_shifts: bool = False, codecs=None, hidden: Codec = INT8_GROUPED4) -> Layout:
        """The layout of a ``widths[0] -> widths[1] -> ... -> widths[-1]`` stack: ReLU on every layer but the
        last (which feeds the softmax); layer i stored by ``codecs[i]`` if given, else the hidden layers by
        ``hidden`` and the last by int8."""
        widths = [int(w) for w in widths]
        n = len(widths) - 1
        if codecs is None:
            codecs = [hidden] * (n - 1) + [INT8_GROUPED4]
        codecs = list(codecs)
        if len(codecs) != n:
            raise ValueError(f"{len(codecs)} codecs for {n} layers")
        layers = tuple(
            LayerShape(index=i + 1, rows=widths[i + 1], inputs=widths[i], relu=i < n - 1, codec=codecs[i])
            for i in range(n)
        )
        return cls(layers, shift_mode(left_shifts))

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.layers[0].inputs, *(layer.rows for layer in self.layers))

    @property
    def n_in(self) -> int:
        return self.layers[0].inputs

    @property
    def n_out(self) -> int:
        return self.layers[-1].rows

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def activation_bytes(self) -> int:
        """The static activation buffers: one uint8 per hidden unit."""
        return sum(layer.rows for layer in self.layers[:-1])

    @property
    def const_bytes(self) -> int:
        return sum(layer.const_bytes for layer in self.layers) + FIXED_CONST_BYTES

    def arrays(self) -> tuple[Array, ...]:
        return tuple(a for layer in self.layers for a in layer.arrays(self.shifts))

    def describe(self) -> str:
        return " -> ".join(str(w) for w in self.widths)

    @property
    def graph(self) -> str:
        """The stack in words: ``784 -> 512 ReLU -> 10 softmax``."""
        parts = [str(self.n_in)] + [f"{layer.rows} ReLU" for layer in self.layers[:-1]] + [f"{self.n_out} softmax"]
        return " -> ".join(parts)

    def problems(self) -> list[str]:
        """Why the templates cannot hold this layout (empty when they can)."""
        out = []
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            out.append(
                f"{len(self.layers)} dense layers; the C kernel holds 1 to {MAX_LAYERS} "
                f"(Dense+ReLU layers, then one Dense, then the softmax)"
            )
        for layer in self.layers:
            if not 1 <= layer.rows <= allowlist.MAX_DIM or not 1 <= layer.inputs <= allowlist.MAX_DIM:
                out.append(
                    f"layer {layer.index} is {layer.inputs} -> {layer.rows}; "
                    f"each width must be 1 to {allowlist.MAX_DIM}"
                )
            if layer.macs > allowlist.MAX_TENSOR_ELEMENTS:
                out.append(f"layer {layer.index} has more than {allowlist.MAX_TENSOR_ELEMENTS} weights")
            if layer is self.layers[-1] and layer.codec is not INT8_GROUPED4:
                out.append(f"the last layer is stored as {layer.codec.name}; the layer feeding the softmax stays int8")
            if layer.relu != (layer is not self.layers[-1]):
                out.append(f"layer {layer.index} {'fuses' if layer.relu else 'lacks'} ReLU")
        if self.macs > MAX_WEIGHTS:
            out.append(f"{self.macs} weights in all; at most {MAX_WEIGHTS}")
        return out

    def derived(self) -> dict[str, int | str]:
        """Every placeholder whose value follows from the layout, by name (the writer writes these, the reader
        requires them)."""
        values: dict[str, int | str] = {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "n_layers": len(self.layers),
            "graph": self.graph,
            "macs": self.macs,
            "const_bytes": self.const_bytes,
            "activation_bytes": self.activation_bytes,
            "left_shifts": int(self.shifts.left_shifts),
            "uses_w4": int(any(layer.codec.bits == 4 for layer in self.layers)),
            "uses_w2": int(any(layer.codec.bits == 2 for layer in self.layers)),
            "shift_type": self.shifts.ctype,
            "shift_meaning": self.shifts.meaning,
        }
        for layer in self.layers:
            i = layer.index
            values.update(
                {
                    f"rows{i}": layer.rows,
                    f"inputs{i}": layer.inputs,
                    f"groups{i}": layer.groups,
                    f"words{i}": layer.words,
                    f"tail{i}": layer.tail,
                    f"stride{i}": layer.stride,
                    f"w{i}_len": layer.weight_len,
                    f"b{i}_len": layer.padded_rows,
                    f"fc{i}_act_max": INT8[1],
                    f"bits{i}": layer.codec.bits,
                    f"w{i}_type": layer.codec.ctype,
                    f"codec{i}": layer.codec.name,
                }
            )
            if not layer.relu:  # TFLM CalculateActivationRangeQuantized with no activation: the int8 range
                values[f"fc{i}_act_min"] = INT8[0]
        return values


# ------------------------------------------------------------------------------------ template placeholders

_UINT = r"0|[1-9][0-9]{0,9}"
_SINT = r"-?(?:0|[1-9][0-9]{0,9})"
_ARRAY = r"  [-0-9, ]{1,400}(?:\n  [-0-9, ]{1,400})*"
_TEXT = r"[ -~]{0,120}"
_FLOAT = r"[0-9.e+-]{1,24}f"


@dataclass(frozen=True)
class Field:
    """One template placeholder: its name, the regex its one spelling matches, and how it is read back
    (``int``: a decimal constant; ``text``; ``float``: a float32 spelled by :func:`c_float`; ``array``)."""

    name: str
    spelling: str
    kind: str


def fields(depth: int) -> dict[str, Field]:
    """Every placeholder of the two templates for a ``depth``-layer pair (:func:`expand`), by name."""

    def f(name: str, spelling: str, kind: str) -> tuple[str, Field]:
        return name, Field(name, spelling, kind)

    out = dict(
        [
            f("version", r"[0-9A-Za-z.+!_-]{1,64}", "text"),
            f("source_name", _TEXT, "text"),
            f("source_sha256", r"[0-9a-f]{64}", "text"),
            f("tools", r"[ -~]{1,121}(?:\n \*                  [ -~]{1,121}){0,%d}" % MAX_TOOLS, "text"),  # noqa: UP031
            f("graph", r"[0-9a-zA-Z >-]{1,%d}" % (12 * (MAX_LAYERS + 1)), "text"),  # noqa: UP031
            f("in_scale", _FLOAT, "float"),
            f("out_scale", _FLOAT, "float"),
            f("shift_type", "|".join(re.escape(m.ctype) for m in SHIFT_MODES), "text"),
            f("shift_meaning", "|".join(re.escape(m.meaning) for m in SHIFT_MODES), "text"),
            f("left_shifts", "[01]", "int"),
            f("uses_w4", "[01]", "int"),
            f("uses_w2", "[01]", "int"),
            *(f(k, _UINT, "int") for k in ("n_in", "n_out", "n_layers", "const_bytes", "macs", "activation_bytes")),
            *(f(k, _SINT, "int") for k in ("sm_mult", "sm_shift", "sm_diff_min", "in_zp", "out_zp")),
        ]
    )
    for i in range(1, depth + 1):
        out.update(f(f"{k}{i}", _UINT, "int") for k in ("rows", "inputs", "groups", "words", "tail", "stride"))
        out.update([f(f"bits{i}", "|".join(str(b) for b in CODECS_BY_BITS), "int")])
        out.update([f(f"w{i}_type", "|".join(sorted({re.escape(c.ctype) for c in CODECS.values()})), "text")])
        out.update([f(f"codec{i}", "|".join(re.escape(c) for c in CODECS), "text")])
        out.update(f(f"{a}{i}_len", _UINT, "int") for a in "wb")
        out.update(f(f"fc{i}_{k}", _SINT, "int") for k in ("out_zp", "act_min", "act_max"))
        out.update(f(f"{a}{i}", _ARRAY, "array") for a in "wbms")
    return out


@dataclass(frozen=True)
class Macro:
    """One ``#define`` of the header: its name, how it is parsed, and the placeholder that fills it."""

    name: str
    kind: type
    field: str


#: The header's #defines, in the order the header writes them.
MACROS = (
    Macro("EDGEMNIST_INPUT_SIZE", int, "n_in"),
    Macro("EDGEMNIST_OUTPUT_SIZE", int, "n_out"),
    Macro("EDGEMNIST_LAYERS", int, "n_layers"),
    Macro("EDGEMNIST_ACTIVATION_BYTES", int, "activation_bytes"),
    Macro("EDGEMNIST_CONST_BYTES", int, "const_bytes"),
    Macro("EDGEMNIST_MACS", int, "macs"),
    Macro("EDGEMNIST_INPUT_SCALE", float, "in_scale"),
    Macro("EDGEMNIST_INPUT_ZERO_POINT", int, "in_zp"),
    Macro("EDGEMNIST_OUTPUT_SCALE", float, "out_scale"),
    Macro("EDGEMNIST_OUTPUT_ZERO_POINT", int, "out_zp"),
    Macro("EDGEMNIST_SOURCE_NAME", str, "source_name"),
    Macro("EDGEMNIST_SOURCE_SHA256", str, "source_sha256"),
    Macro("EDGEMNIST_GENERATOR", str, "version"),
)
#: Placeholders both files state (the reader requires the C file to repeat the header's).
SHARED_FIELDS = ("version", "source_name", "source_sha256", "n_in", "n_out", "n_layers", "graph")

# ------------------------------------------------------------------------------------------- size limits

#: The largest pair the layout permits: MAX_LAYERS layers of at most MAX_DIM rows and inputs, MAX_WEIGHTS weights
#: in all (plus, per layer, at most 3 zero rows and 3 zero columns of padding), each int8 weight spelled in at most
#: 7 characters ("-128, " and the line breaks), each int32 (bias, multiplier) in at most 14, each shift in at most
#: 6, plus the template text. Anything larger is refused before it is read.
MAX_SOURCE_BYTES = (
    (MAX_WEIGHTS + MAX_LAYERS * (6 * allowlist.MAX_DIM + 9)) * 7
    + MAX_LAYERS * 2 * (allowlist.MAX_DIM + 3) * 14
    + MAX_LAYERS * allowlist.MAX_DIM * 6
    + (64 << 10)
)
#: The header holds no arrays: the template, the names and at most MAX_TOOLS tool lines.
MAX_HEADER_BYTES = 32 << 10

# ---------------------------------------------------------------------------------------------- templates

#: The template of each generated file (``templates/`` beside this module, ``string.Template`` placeholders).
TEMPLATES = {SOURCE_NAME: "kernel.c.in", HEADER_NAME: "header.h.in"}


#: The per-layer blocks :func:`expand` puts at each mark: (mark, sub-template, which layers).
BLOCKS = (("@{layers}", "layer.c.in", "all"), ("@{buffers}", "buffer.c.in", "hidden"), ("@{calls}", "call.c.in", "all"))


def template_text(name: str) -> str:
    return resources.files("edgemnist.ckernel").joinpath("templates", name).read_text(encoding="utf-8")


def expand(name: str, depth: int) -> str:
    """The template ``name`` for a ``depth``-layer pair: every mark replaced by its block once per layer (``<i>``
    the layer's index; in a call, ``<x>`` its input buffer and ``<out>`` where it writes)."""
    text = template_text(name)
    for mark, block, which in BLOCKS:
        if mark not in text:
            continue
        sub = template_text(block)
        parts = []
        for i in range(1, depth + 1):
            if which == "hidden" and i == depth:
                continue
            x = "pixels" if i == 1 else f"em_act{i - 1}"
            out = f"em_act{i}, 0" if i < depth else "0, logits"
            parts.append(sub.replace("<i>", str(i)).replace("<x>", x).replace("<out>", out))
        text = text.replace(mark, "".join(parts))
    return text


def template(name: str, depth: int) -> Template:
    return Template(expand(name, depth))


def pieces(name: str, depth: int) -> list[tuple[str, str]]:
    """The expanded template as (kind, text) pieces: ("literal", text) or ("field", placeholder name)."""
    text = expand(name, depth)
    out, pos = [], 0
    for m in Template.pattern.finditer(text):
        out.append(("literal", text[pos : m.start()]))
        if m.group("escaped") is not None:
            out.append(("literal", "$"))
        else:
            out.append(("field", m.group("braced") or m.group("named")))
        pos = m.end()
    out.append(("literal", text[pos:]))
    return [p for p in out if p[1]]
