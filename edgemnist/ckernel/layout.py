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

The templates hold exactly two layers today (``784 -> H ReLU -> 10``, inputs a multiple of 16); a layout of any
other depth is refused by :meth:`Layout.check` with a message that says what is supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from string import Template

import numpy as np

from edgemnist import allowlist

SOURCE_NAME = "edgemnist_model.c"
HEADER_NAME = "edgemnist_model.h"
#: At most this many tool versions are copied from the source's manifest into the header.
MAX_TOOLS = 32
#: How many dense layers the templates hold (the last one feeds the softmax).
SUPPORTED_DEPTHS = (2,)
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


@dataclass(frozen=True)
class Codec:
    """How a layer's weights are stored: the C element type, the value range, and the packing.

    ``int8-grouped4``: rows are taken ``rows_per_group`` at a time (missing rows of the last group are zero);
    within a group, for each run of four inputs j, 16 bytes: row 0's inputs 4j..4j+3, row 1's, row 2's, row 3's.
    """

    name: str
    ctype: str
    bytes_per_value: int
    lo: int
    hi: int
    rows_per_group: int
    input_multiple: int
    per_line: int

    def groups(self, rows: int) -> int:
        return -(-rows // self.rows_per_group)

    def packed_len(self, rows: int, inputs: int) -> int:
        return self.groups(rows) * self.rows_per_group * inputs

    def pack(self, w: np.ndarray) -> np.ndarray:
        """(rows, inputs) int8 -> the C layout (``inputs`` a multiple of ``input_multiple``)."""
        rows, n = w.shape
        g, r = self.groups(rows), self.rows_per_group
        padded = np.zeros((g * r, n), np.int8)
        padded[:rows] = w
        # (g, r, j, k) -> (g, j, r, k)
        return padded.reshape(g, r, n // 4, 4).transpose(0, 2, 1, 3).reshape(-1).copy()

    def unpack_padded(self, packed: np.ndarray, rows: int, n: int) -> np.ndarray:
        """The packed values back as (groups * rows_per_group, n): the padding rows included."""
        g, r = self.groups(rows), self.rows_per_group
        return np.asarray(packed, np.int8).reshape(g, n // 4, r, 4).transpose(0, 2, 1, 3).reshape(g * r, n)

    def unpack(self, packed: np.ndarray, rows: int, n: int) -> np.ndarray:
        return self.unpack_padded(packed, rows, n)[:rows]


INT8_GROUPED4 = Codec(
    name="int8-grouped4",
    ctype="int8_t",
    bytes_per_value=1,
    lo=INT8[0],
    hi=INT8[1],
    rows_per_group=4,
    input_multiple=16,
    per_line=24,
)
#: Every weight codec by name.
CODECS = {c.name: c for c in (INT8_GROUPED4,)}


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
    def macs(self) -> int:
        return self.rows * self.inputs

    def weights(self) -> Array:
        c = self.codec
        return Array(f"w{self.index}", f"em_w{self.index}", c.ctype, self.weight_len, c.lo, c.hi, c.per_line)

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
        return self.weight_len * self.codec.bytes_per_value + 4 * self.padded_rows + 5 * self.rows


@dataclass(frozen=True)
class Layout:
    """A generated pair: its dense layers (input to output) and how it stores shifts."""

    layers: tuple[LayerShape, ...]
    shifts: ShiftMode = RIGHT_SHIFTS

    @classmethod
    def of_widths(cls, widths, *, left_shifts: bool = False, codec: Codec = INT8_GROUPED4) -> Layout:
        """The layout of a ``widths[0] -> widths[1] -> ... -> widths[-1]`` stack: ReLU on every layer but the
        last (which feeds the softmax), every layer stored by ``codec``."""
        widths = [int(w) for w in widths]
        n = len(widths) - 1
        layers = tuple(
            LayerShape(index=i + 1, rows=widths[i + 1], inputs=widths[i], relu=i < n - 1, codec=codec) for i in range(n)
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
        """The static activation buffer: the widest hidden layer, one uint8 per unit."""
        return max(layer.rows for layer in self.layers[:-1])

    @property
    def const_bytes(self) -> int:
        return sum(layer.const_bytes for layer in self.layers) + FIXED_CONST_BYTES

    def arrays(self) -> tuple[Array, ...]:
        return tuple(a for layer in self.layers for a in layer.arrays(self.shifts))

    def describe(self) -> str:
        return " -> ".join(str(w) for w in self.widths)

    def problems(self) -> list[str]:
        """Why the templates cannot hold this layout (empty when they can)."""
        out = []
        if len(self.layers) not in SUPPORTED_DEPTHS:
            out.append(
                f"{len(self.layers)} dense layers; the C kernel holds "
                f"{' or '.join(str(d) for d in SUPPORTED_DEPTHS)} (Dense+ReLU then Dense, then softmax)"
            )
        for layer in self.layers:
            if not 1 <= layer.rows <= allowlist.MAX_DIM or not 1 <= layer.inputs <= allowlist.MAX_DIM:
                out.append(f"layer {layer.index} is {layer.inputs} -> {layer.rows}; at most {allowlist.MAX_DIM} each")
            elif layer.inputs % layer.codec.input_multiple:
                out.append(
                    f"layer {layer.index} has {layer.inputs} inputs; its {layer.codec.name} weights need a "
                    f"multiple of {layer.codec.input_multiple}"
                )
            if layer.macs > allowlist.MAX_TENSOR_ELEMENTS:
                out.append(f"layer {layer.index} has more than {allowlist.MAX_TENSOR_ELEMENTS} weights")
            if layer.relu != (layer is not self.layers[-1]):
                out.append(f"layer {layer.index} {'fuses' if layer.relu else 'lacks'} ReLU")
        return out

    def derived(self) -> dict[str, int | str]:
        """Every placeholder whose value follows from the layout, by name (the writer writes these, the reader
        requires them)."""
        hidden, out = self.layers[0], self.layers[-1]
        values: dict[str, int | str] = {
            "n_in": self.n_in,
            "n_hidden": hidden.rows,
            "n_out": self.n_out,
            "hidden_groups": hidden.groups,
            "out_groups": out.groups,
            "macs": self.macs,
            "const_bytes": self.const_bytes,
            "left_shifts": int(self.shifts.left_shifts),
            "shift_type": self.shifts.ctype,
            "shift_meaning": self.shifts.meaning,
            "fc1_act_max": INT8[1],
        }
        for layer in self.layers:
            values[f"w{layer.index}_len"] = layer.weight_len
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


def fields(depth: int = 2) -> dict[str, Field]:
    """Every placeholder of the two templates for a ``depth``-layer pair, by name."""

    def f(name: str, spelling: str, kind: str) -> tuple[str, Field]:
        return name, Field(name, spelling, kind)

    out = dict(
        [
            f("version", r"[0-9A-Za-z.+!_-]{1,64}", "text"),
            f("source_name", _TEXT, "text"),
            f("source_sha256", r"[0-9a-f]{64}", "text"),
            f("tools", r"[ -~]{1,121}(?:\n \*                  [ -~]{1,121}){0,%d}" % MAX_TOOLS, "text"),  # noqa: UP031
            f("in_scale", _FLOAT, "float"),
            f("out_scale", _FLOAT, "float"),
            f("shift_type", "|".join(re.escape(m.ctype) for m in SHIFT_MODES), "text"),
            f("shift_meaning", "|".join(re.escape(m.meaning) for m in SHIFT_MODES), "text"),
            f("left_shifts", "[01]", "int"),
            *(f(k, _UINT, "int") for k in ("n_in", "n_hidden", "n_out", "hidden_groups", "out_groups")),
            *(f(k, _UINT, "int") for k in ("const_bytes", "macs")),
            *(f(k, _SINT, "int") for k in ("sm_mult", "sm_shift", "sm_diff_min", "in_zp", "out_zp")),
            *(f("fc1_act_min", _SINT, "int"), f("fc1_act_max", _SINT, "int")),
        ]
    )
    for i in range(1, depth + 1):
        out.update([f(f"w{i}_len", _UINT, "int"), f(f"fc{i}_out_zp", _SINT, "int")])
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
    Macro("EDGEMNIST_HIDDEN_SIZE", int, "n_hidden"),
    Macro("EDGEMNIST_OUTPUT_SIZE", int, "n_out"),
    Macro("EDGEMNIST_ACTIVATION_BYTES", int, "n_hidden"),
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
SHARED_FIELDS = ("version", "source_name", "source_sha256", "n_in", "n_hidden", "n_out")

# ------------------------------------------------------------------------------------------- size limits

#: The largest pair the allow-list permits (``edgemnist.allowlist``): each layer at most MAX_DIM rows and inputs
#: and MAX_TENSOR_ELEMENTS weights (plus at most 3 zero rows of padding), each int8 weight spelled in at most 7
#: characters ("-128, " and the line breaks), each int32 (bias, multiplier) in at most 14, each shift in at most 6,
#: plus the template text. Anything larger is refused before it is read.
MAX_SOURCE_BYTES = (
    2 * (allowlist.MAX_TENSOR_ELEMENTS + 3 * allowlist.MAX_DIM) * 7
    + 4 * (allowlist.MAX_DIM + 3) * 14
    + 2 * allowlist.MAX_DIM * 6
    + (64 << 10)
)
#: The header holds no arrays: the template, the names and at most MAX_TOOLS tool lines.
MAX_HEADER_BYTES = 32 << 10

# ---------------------------------------------------------------------------------------------- templates

#: The template of each generated file (``templates/`` beside this module, ``string.Template`` placeholders).
TEMPLATES = {SOURCE_NAME: "kernel.c.in", HEADER_NAME: "header.h.in"}


def template_text(name: str) -> str:
    return resources.files("edgemnist.ckernel").joinpath("templates", name).read_text(encoding="utf-8")


def template(name: str) -> Template:
    return Template(template_text(name))


def pieces(name: str) -> list[tuple[str, str]]:
    """The template as (kind, text) pieces: ("literal", text) or ("field", placeholder name)."""
    text = template_text(name)
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
