"""Render the ``edgemnist_model.c`` + ``edgemnist_model.h`` pair from a :class:`~edgemnist.ckernel.model.Model`.

Rendering is data: :func:`constants` computes every number the C holds (packed weights, biases, TFLM multipliers
and shifts, softmax parameters), and the two templates beside this module (``templates/*.in``, ``string.Template``
placeholders, shipped as package data) only place them. ``render(model)`` returns ``{file name: text}``.
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edgemnist import __version__, allowlist
from edgemnist.ckernel import quant
from edgemnist.ckernel.model import Dense, Model
from edgemnist.errors import ArtifactError

SOURCE_NAME = "edgemnist_model.c"
HEADER_NAME = "edgemnist_model.h"
ROWS_PER_GROUP = 4
VALUES_PER_LINE = 24
#: At most this many tool versions are copied from the source's manifest into the header.
MAX_TOOLS = 32


@dataclass(frozen=True)
class Layer:
    """One dense layer as the C holds it."""

    packed: np.ndarray  # int8, the grouped layout the C file documents
    bias: np.ndarray  # int32, padded to a multiple of 4 rows
    multipliers: list[int]
    shifts: list[int]
    groups: int
    output_zero_point: int
    act_min: int
    act_max: int


def pack_weights(w: np.ndarray) -> np.ndarray:
    """(R, N) int8 -> the C layout: groups of 4 rows (zero rows pad the last), then runs of 4 inputs, 16 bytes each
    (row 0's 4 inputs, row 1's, row 2's, row 3's). N must be a multiple of 16."""
    rows, n = w.shape
    groups = -(-rows // ROWS_PER_GROUP)
    padded = np.zeros((groups * ROWS_PER_GROUP, n), np.int8)
    padded[:rows] = w
    # (g, r, j, k) -> (g, j, r, k)
    return padded.reshape(groups, ROWS_PER_GROUP, n // 4, 4).transpose(0, 2, 1, 3).reshape(-1).copy()


def unpack_weights(packed: np.ndarray, rows: int, n: int) -> np.ndarray:
    groups = -(-rows // ROWS_PER_GROUP)
    full = packed.reshape(groups, n // 4, ROWS_PER_GROUP, 4).transpose(0, 2, 1, 3).reshape(groups * 4, n)
    return full[:rows]


def _layer(d: Dense, origin: str) -> Layer:
    rows, n = d.weights.shape
    if n % 16:
        raise ArtifactError(f"{origin}: a layer has {n} inputs; the C kernel needs a multiple of 16")
    if d.input_zero_point != -128:
        raise ArtifactError(
            f"{origin}: a layer's input zero point is {d.input_zero_point}; the C kernel needs -128 "
            f"(inputs x - zero_point in [0, 255])"
        )
    mults, shifts = quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)
    if any(not (m == 0 or (1 << 30) <= m < (1 << 31)) for m in mults):  # em_requant relies on it
        raise ArtifactError(f"{origin}: a requantization multiplier is outside [2^30, 2^31)")
    if any(not -31 <= s <= 30 for s in shifts):
        raise ArtifactError(f"{origin}: a requantization shift is outside [-31, 30]")
    groups = -(-rows // ROWS_PER_GROUP)
    bias = np.zeros(groups * ROWS_PER_GROUP, np.int32)
    bias[:rows] = d.bias
    # TFLM CalculateActivationRangeQuantized: RELU -> [max(-128, zp + round(0 / s)), 127]; NONE -> [-128, 127].
    act_min = max(-128, d.output_zero_point) if d.relu else -128
    return Layer(
        packed=pack_weights(d.weights),
        bias=bias,
        multipliers=mults,
        shifts=shifts,
        groups=groups,
        output_zero_point=d.output_zero_point,
        act_min=act_min,
        act_max=127,
    )


def _array(values, per_line: int = VALUES_PER_LINE) -> str:
    vals = [str(int(v)) for v in values]
    return "\n".join("  " + ", ".join(vals[i : i + per_line]) + "," for i in range(0, len(vals), per_line))


def _safe(text: str) -> str:
    """Printable ASCII without comment delimiters, quotes, backslashes or trigraphs, for a C comment or string
    literal."""
    text = re.sub(r"[^ -~]", "?", str(text)).replace("*/", "* /").replace("/*", "/ *")
    text = text.replace('"', "'").replace("\\", "/")
    while "??" in text:  # no trigraphs (-std=c99 reads ??/ as a backslash)
        text = text.replace("??", "?_")
    return text[:120]


def _wrap(items: list[str], width: int = 100, indent: str = " *                  ") -> str:
    """Comma-separated items on comment lines of at most ``width`` characters (continuations indented)."""
    lines, line = [], ""
    for item in items:
        candidate = f"{line}, {item}" if line else item
        if line and len(indent) + len(candidate) > width:
            lines.append(line + ",")
            line = item
        else:
            line = candidate
    lines.append(line)
    return ("\n" + indent).join(lines)


def _c_float(x: float) -> str:
    return f"{np.float32(x).item():.9g}f"


def _tools(source: Path | None) -> dict:
    tools = {"edgemnist": __version__, "python": platform.python_version(), "numpy": np.__version__}
    if source is not None:
        try:
            manifest = json.loads(Path(str(source) + ".json").read_text())
            for k, v in list((manifest.get("tools") or {}).items())[:MAX_TOOLS]:
                if isinstance(v, str):
                    tools.setdefault(f"source:{k}", v)
        except (OSError, ValueError, AttributeError):
            pass
    return tools


def constants(model: Model, *, general_shifts: bool = False) -> dict:
    """Every value the C holds, by template placeholder. ``general_shifts`` keeps TFLM's signed shifts and the
    left-shift step even when no channel needs it (a test of that code path)."""
    origin = model.source_name
    fc1, fc2 = _layer(model.fc1, origin), _layer(model.fc2, origin)
    if model.fc2.input_zero_point != model.fc1.output_zero_point or model.fc2.input_scale != model.fc1.output_scale:
        raise ArtifactError(f"{origin}: the second layer's input quantization differs from the first's output")
    sm_mult, sm_shift, diff_min = quant.softmax_params(model.softmax_beta, model.softmax_input_scale)
    left_shifts = general_shifts or any(sh > 0 for sh in fc1.shifts + fc2.shifts)
    # Without positive shifts the C stores right shifts (uint8) and compiles the left-shift step out.
    s1 = fc1.shifts if left_shifts else [-sh for sh in fc1.shifts]
    s2 = fc2.shifts if left_shifts else [-sh for sh in fc2.shifts]
    n_hidden, n_in = model.fc1.weights.shape
    n_out = model.fc2.weights.shape[0]
    const_bytes = fc1.packed.size + fc2.packed.size + 4 * (fc1.bias.size + fc2.bias.size) + 5 * (n_hidden + n_out) + 28
    return {
        "n_in": n_in,
        "n_hidden": n_hidden,
        "n_out": n_out,
        "hidden_groups": fc1.groups,
        "out_groups": fc2.groups,
        "w1_len": fc1.packed.size,
        "w1": _array(fc1.packed),
        "b1": _array(fc1.bias, 8),
        "m1": _array(fc1.multipliers, 8),
        "s1": _array(s1),
        "w2_len": fc2.packed.size,
        "w2": _array(fc2.packed),
        "b2": _array(fc2.bias, 8),
        "m2": _array(fc2.multipliers, 8),
        "s2": _array(s2),
        "left_shifts": int(left_shifts),
        "shift_type": "int8_t" if left_shifts else "uint8_t",
        "shift_meaning": "TFLM's shift (left if positive)"
        if left_shifts
        else "the right shift, -shift: no channel shifts left",
        "fc1_out_zp": fc1.output_zero_point,
        "fc1_act_min": fc1.act_min,
        "fc1_act_max": fc1.act_max,
        "fc2_out_zp": fc2.output_zero_point,
        "sm_mult": sm_mult,
        "sm_shift": sm_shift,
        "sm_diff_min": diff_min,
        "const_bytes": const_bytes,
        "macs": model.macs,
        "in_scale": _c_float(model.fc1.input_scale),
        "in_zp": model.fc1.input_zero_point,
        "out_scale": _c_float(model.output_scale),
        "out_zp": model.output_zero_point,
    }


def _template(name: str) -> Template:
    return Template(resources.files("edgemnist.ckernel").joinpath("templates", name).read_text(encoding="utf-8"))


def render(model: Model, *, source: str | Path | None = None, general_shifts: bool = False) -> dict[str, str]:
    """{``edgemnist_model.c``: text, ``edgemnist_model.h``: text} for ``model`` (read from ``source``)."""
    values = constants(model, general_shifts=general_shifts)
    tools = _tools(Path(source) if source is not None else None)
    values.update(
        version=_safe(__version__),
        source_name=_safe(model.source_name),
        source_sha256=model.source_sha256,
        tools=_wrap([_safe(f"{k} {v}") for k, v in tools.items()]),
    )
    return {
        SOURCE_NAME: _template("kernel.c.in").substitute(values),
        HEADER_NAME: _template("header.h.in").substitute(values),
    }


def tools(source: str | Path | None = None) -> dict:
    """The tool versions the header records (for the manifest)."""
    return _tools(Path(source) if source is not None else None)


#: The header's #defines read back (name -> parser), the same names the header template writes.
HEADER_MACROS = {
    "EDGEMNIST_INPUT_SIZE": int,
    "EDGEMNIST_HIDDEN_SIZE": int,
    "EDGEMNIST_OUTPUT_SIZE": int,
    "EDGEMNIST_ACTIVATION_BYTES": int,
    "EDGEMNIST_CONST_BYTES": int,
    "EDGEMNIST_MACS": int,
    "EDGEMNIST_INPUT_SCALE": float,
    "EDGEMNIST_INPUT_ZERO_POINT": int,
    "EDGEMNIST_OUTPUT_SCALE": float,
    "EDGEMNIST_OUTPUT_ZERO_POINT": int,
    "EDGEMNIST_SOURCE_NAME": str,
    "EDGEMNIST_SOURCE_SHA256": str,
    "EDGEMNIST_GENERATOR": str,
}


def read_header(text: str, origin: str = HEADER_NAME) -> dict:
    """The values of ``HEADER_MACROS`` in a generated header; ArtifactError naming what is missing."""
    values, missing = {}, []
    for name, kind in HEADER_MACROS.items():
        m = re.search(rf"^#define {name} (.+?)\s*$", text, flags=re.M)
        if not m:
            missing.append(name)
            continue
        raw = m.group(1)
        try:
            if kind is str:
                values[name] = raw.strip('"')
            elif kind is float:
                values[name] = float(np.float32(float(raw.rstrip("f"))))
            else:
                values[name] = int(raw)
        except ValueError:
            missing.append(name)
    if missing:
        raise ArtifactError(f"{origin}: not an edgemnist C kernel header (missing or malformed: {', '.join(missing)})")
    return values


# --------------------------------------------------------------------------- reading a generated pair back

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

_UINT = r"0|[1-9][0-9]{0,9}"
_SINT = r"-?(?:0|[1-9][0-9]{0,9})"
_ARRAY = r"  [-0-9, ]{1,400}(?:\n  [-0-9, ]{1,400})*"
_TEXT = r"[ -~]{0,120}"
_MEANINGS = ("TFLM's shift (left if positive)", "the right shift, -shift: no channel shifts left")
#: How each placeholder may be spelled (a superset; the spelling is then checked to be the generator's own).
_SPELLING = {
    "version": r"[0-9A-Za-z.+!_-]{1,64}",
    "source_name": _TEXT,
    "source_sha256": r"[0-9a-f]{64}",
    "tools": r"[ -~]{1,121}(?:\n \*                  [ -~]{1,121}){0,%d}" % MAX_TOOLS,  # noqa: UP031 (a regex full of braces)
    "in_scale": r"[0-9.e+-]{1,24}f",
    "out_scale": r"[0-9.e+-]{1,24}f",
    "shift_type": r"u?int8_t",
    "shift_meaning": "|".join(re.escape(m) for m in _MEANINGS),
    "left_shifts": "[01]",
    **{k: _ARRAY for k in ("w1", "b1", "m1", "s1", "w2", "b2", "m2", "s2")},
    **{
        k: _SINT
        for k in (
            "fc1_out_zp",
            "fc1_act_min",
            "fc1_act_max",
            "fc2_out_zp",
            "sm_mult",
            "sm_shift",
            "sm_diff_min",
            "in_zp",
            "out_zp",
        )
    },
}
_INTS = (
    "n_in",
    "n_hidden",
    "n_out",
    "hidden_groups",
    "out_groups",
    "w1_len",
    "w2_len",
    "const_bytes",
    "macs",
    "left_shifts",
    "fc1_out_zp",
    "fc1_act_min",
    "fc1_act_max",
    "fc2_out_zp",
    "sm_mult",
    "sm_shift",
    "sm_diff_min",
    "in_zp",
    "out_zp",
)
_PER_LINE = {"b1": 8, "m1": 8, "b2": 8, "m2": 8}


def _pieces(name: str) -> list[tuple[str, str]]:
    """The template as (kind, text) pieces: ("literal", text) or ("field", placeholder name)."""
    text = resources.files("edgemnist.ckernel").joinpath("templates", name).read_text(encoding="utf-8")
    pieces, pos = [], 0
    for m in Template.pattern.finditer(text):
        pieces.append(("literal", text[pos : m.start()]))
        if m.group("escaped") is not None:
            pieces.append(("literal", "$"))
        else:
            pieces.append(("field", m.group("braced") or m.group("named")))
        pos = m.end()
    pieces.append(("literal", text[pos:]))
    return [p for p in pieces if p[1]]


def _not_ours(origin: str, text: str, pos: int, expected: str) -> ArtifactError:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    found = text[start : end if end >= 0 else len(text)][:80]
    return ArtifactError(
        f"{origin}: not an edgemnist-generated C kernel (line {line} differs from what edgemnist "
        f"{__version__}'s C generator writes: expected {expected[:60]!r}, found "
        f"{found.encode('ascii', 'backslashreplace').decode()!r}); re-export it with "
        f"edgemnist's C exporter"
    )


def _parse(text: str, template: str, origin: str, known: dict[str, str]) -> dict[str, str]:
    """Placeholder texts of ``text`` read against ``template``'s pieces, one accepted spelling per field; a field
    already in ``known`` (from the other file, or earlier in this one) must repeat exactly."""
    values, pos = dict(known), 0
    for kind, piece in _pieces(template):
        if kind == "literal":
            if not text.startswith(piece, pos):
                same = len(os.path.commonprefix([piece, text[pos : pos + len(piece)]]))
                at = piece.rfind("\n", 0, same) + 1  # report the whole line the difference is on
                raise _not_ours(origin, text, pos + at, piece[at:].split("\n")[0] or "an empty line")
            pos += len(piece)
            continue
        if piece in values:
            if not text.startswith(values[piece], pos):
                raise _not_ours(origin, text, pos, f"the {piece} given earlier, {values[piece][:40]!r}")
            pos += len(values[piece])
            continue
        m = re.compile(_SPELLING.get(piece, _UINT)).match(text, pos)
        if not m:
            raise _not_ours(origin, text, pos, f"the {piece} value")
        values[piece] = m.group(0)
        pos = m.end()
    if pos != len(text):
        raise _not_ours(origin, text, pos, "the end of the file")
    return values


def _ints(raw: str, name: str, origin: str, count: int, lo: int, hi: int, per_line: int) -> list[int]:
    try:
        vals = [int(v) for v in raw.replace("\n", " ").replace(",", " ").split()]
    except ValueError:
        vals = None
    if vals is None or _array(vals, per_line) != raw:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {name} is not spelled as the "
            f"generator writes it: {per_line} decimal values a line, no leading zeros or signs)"
        )
    if len(vals) != count:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {name} holds {len(vals)} values; "
            f"its declared size is {count})"
        )
    if vals and not (lo <= min(vals) and max(vals) <= hi):
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {name} holds a value outside [{lo}, {hi}])"
        )
    return vals


def _check_values(v: dict[str, str], origin: str) -> dict:
    """The numbers of a parsed pair, checked against every invariant the generator guarantees (sizes that follow
    from each other and fit the allow-list, value ranges the C relies on)."""

    def bad(why: str) -> ArtifactError:
        return ArtifactError(f"{origin}: not an edgemnist-generated C kernel ({why})")

    n = {k: int(v[k]) for k in _INTS}
    if any(str(n[k]) != v[k] for k in _INTS):
        raise bad("a constant is not spelled as the generator writes it (no leading zeros, no -0)")
    for field in ("version", "source_name", "tools"):
        if any(bad_text in v[field] for bad_text in ("*/", "/*", "??", "\\", '"')):
            raise bad(f"its {field} holds characters the generator never writes")
    for f in ("in_scale", "out_scale"):
        try:
            spelled = _c_float(float(v[f][:-1]))
        except ValueError:
            spelled = None
        if spelled != v[f]:
            raise bad(f"{f} {v[f]!r} is not spelled as the generator writes a float32")
    n_in, n_hidden, n_out = n["n_in"], n["n_hidden"], n["n_out"]
    for name, size in (("inputs", n_in), ("hidden units", n_hidden), ("outputs", n_out)):
        if not 1 <= size <= allowlist.MAX_DIM:
            raise bad(f"{size} {name}; at most {allowlist.MAX_DIM}")
    if n_in % 16 or n_hidden % 16:
        raise bad("layer inputs must be a multiple of 16")
    if max(n_in * n_hidden, n_hidden * n_out) > allowlist.MAX_TENSOR_ELEMENTS:
        raise bad(f"a weight matrix of more than {allowlist.MAX_TENSOR_ELEMENTS} elements")
    g1, g2 = -(-n_hidden // ROWS_PER_GROUP), -(-n_out // ROWS_PER_GROUP)
    expect = {
        "hidden_groups": g1,
        "out_groups": g2,
        "w1_len": g1 * 4 * n_in,
        "w2_len": g2 * 4 * n_hidden,
        "macs": n_in * n_hidden + n_hidden * n_out,
        "fc1_act_max": 127,
        "fc1_act_min": max(-128, n["fc1_out_zp"]),
        "in_zp": -128,
        "const_bytes": g1 * 4 * n_in + g2 * 4 * n_hidden + 4 * 4 * (g1 + g2) + 5 * (n_hidden + n_out) + 28,
        "sm_diff_min": -quant.calculate_input_radius(quant.SCALED_DIFF_INTEGER_BITS, n["sm_shift"])
        if 0 <= n["sm_shift"] <= 30
        else None,
    }
    for k, want in expect.items():
        if n[k] != want:
            raise bad(f"{k} is {n[k]}; the generator writes {want} for a {n_in} -> {n_hidden} -> {n_out} kernel")
    for k in ("fc1_out_zp", "fc2_out_zp", "out_zp"):
        if not -128 <= n[k] <= 127:
            raise bad(f"{k} {n[k]} is not an int8 zero point")
    if not (1 << 30) <= n["sm_mult"] < (1 << 31):
        raise bad("the softmax multiplier is outside [2^30, 2^31)")
    left = n["left_shifts"]
    if v["shift_type"] != ("int8_t" if left else "uint8_t") or v["shift_meaning"] != _MEANINGS[0 if left else 1]:
        raise bad("its shift type does not match its shift mode")
    s_lo, s_hi = (-31, 30) if left else (0, 31)
    i8, i32 = (-128, 127), (-(1 << 31), (1 << 31) - 1)
    arrays = {}
    for layer, rows, inputs, groups in ((1, n_hidden, n_in, g1), (2, n_out, n_hidden, g2)):
        w = _ints(v[f"w{layer}"], f"em_w{layer}", origin, groups * 4 * inputs, *i8, VALUES_PER_LINE)
        b = _ints(v[f"b{layer}"], f"em_b{layer}", origin, groups * 4, *i32, 8)
        m = _ints(v[f"m{layer}"], f"em_m{layer}", origin, rows, *i32, 8)
        s = _ints(v[f"s{layer}"], f"em_s{layer}", origin, rows, s_lo, s_hi, VALUES_PER_LINE)
        if any(x and not (1 << 30) <= x < (1 << 31) for x in m):
            raise bad(f"a layer-{layer} multiplier is outside [2^30, 2^31)")
        if any(b[rows:]):
            raise bad(f"layer {layer}'s padding rows are not zero")
        if rows % 4:
            pad = np.asarray(w, np.int8).reshape(groups, inputs // 4, 4, 4)[-1, :, rows % 4 :, :]
            if pad.any():
                raise bad(f"layer {layer}'s padding rows are not zero")
        arrays.update({f"w{layer}": w, f"b{layer}": b, f"m{layer}": m, f"s{layer}": s})
    return {**n, **arrays}


def check_pair(c_text: bytes, h_text: bytes, origin: str = SOURCE_NAME, h_origin: str = HEADER_NAME) -> dict:
    """Prove that ``c_text`` + ``h_text`` are exactly what :func:`render` writes: both pure ASCII within the size
    limits, every field spelled the one way the generator spells it, every invariant of :func:`_check_values`,
    and the templates re-filled with the parsed numbers equal to the files byte for byte. Returns the parsed
    values; anything else (an extra line, an #include, asm, a changed macro or array) is an ArtifactError.
    Nothing here compiles or runs anything."""
    for what, data, limit in ((origin, c_text, MAX_SOURCE_BYTES), (h_origin, h_text, MAX_HEADER_BYTES)):
        if len(data) > limit:
            raise ArtifactError(
                f"{what}: not an edgemnist-generated C kernel ({len(data)} bytes; the largest "
                f"kernel the allow-list permits is {limit} bytes)"
            )
    try:
        c, h = c_text.decode("ascii"), h_text.decode("ascii")
    except UnicodeDecodeError:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (the generator writes ASCII only)"
        ) from None
    header = _parse(h, "header.h.in", h_origin, {})
    shared = {k: header[k] for k in ("version", "source_name", "source_sha256", "n_in", "n_hidden", "n_out")}
    values = _parse(c, "kernel.c.in", origin, shared)
    values.update({k: header[k] for k in header})
    numbers = _check_values(values, origin)
    # Re-render from the parsed numbers: the generator's own spelling of every value, the generator's templates.
    again = dict(values)
    again.update({k: str(numbers[k]) for k in _INTS})
    again.update(
        {
            k: _array(numbers[k], _PER_LINE.get(k, VALUES_PER_LINE))
            for k in ("w1", "b1", "m1", "s1", "w2", "b2", "m2", "s2")
        }
    )
    if _template("kernel.c.in").substitute(again) != c or _template("header.h.in").substitute(again) != h:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (re-rendering its values with "
            f"edgemnist {__version__}'s templates does not give the same bytes)"
        )
    return values
