"""Read a generated ``edgemnist_model.c`` / ``edgemnist_model.h`` pair back, strictly (hostile input).

:func:`check_pair` proves a pair is exactly what :mod:`edgemnist.ckernel.writer` writes: every placeholder
spelled the one way :func:`edgemnist.ckernel.layout.fields` says, every array as long as the pair's
:class:`~edgemnist.ckernel.layout.Layout` says and within its value range, every derived size equal to the
layout's, and the templates re-filled with the parsed values equal to the files byte for byte.
:func:`read_header` reads the header's ``#define``\\ s (:data:`~edgemnist.ckernel.layout.MACROS`).
"""

from __future__ import annotations

import os
import re

import numpy as np

from edgemnist import __version__
from edgemnist.ckernel import layout, quant
from edgemnist.ckernel.layout import (
    HEADER_NAME,
    MAX_HEADER_BYTES,
    MAX_SOURCE_BYTES,
    SOURCE_NAME,
    Array,
    Layout,
    c_float,
    spell_array,
)
from edgemnist.errors import ArtifactError

__all__ = ["HEADER_NAME", "MAX_HEADER_BYTES", "MAX_SOURCE_BYTES", "SOURCE_NAME", "check_pair", "read_header"]


def read_header(text: str, origin: str = HEADER_NAME) -> dict:
    """The values of ``layout.MACROS`` in a generated header, by macro name; ArtifactError naming what is
    missing."""
    values, missing = {}, []
    for macro in layout.MACROS:
        m = re.search(rf"^#define {macro.name} (.+?)\s*$", text, flags=re.M)
        if not m:
            missing.append(macro.name)
            continue
        raw = m.group(1)
        try:
            if macro.kind is str:
                values[macro.name] = raw.strip('"')
            elif macro.kind is float:
                values[macro.name] = float(np.float32(float(raw.rstrip("f"))))
            else:
                values[macro.name] = int(raw)
        except ValueError:
            missing.append(macro.name)
    if missing:
        raise ArtifactError(f"{origin}: not an edgemnist C kernel header (missing or malformed: {', '.join(missing)})")
    return values


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


def _parse(text: str, template: str, depth: int, origin: str, known: dict[str, str]) -> dict[str, str]:
    """Placeholder texts of ``text`` read against the pieces of ``template`` expanded for ``depth`` layers, one
    accepted spelling per field; a field already in ``known`` (from the other file, or earlier in this one) must
    repeat exactly."""
    spellings = {name: f.spelling for name, f in layout.fields(depth).items()}
    values, pos = dict(known), 0
    for kind, piece in layout.pieces(template, depth):
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
        if piece not in spellings:
            raise ArtifactError(f"{template}: placeholder {piece!r} is not described in edgemnist.ckernel.layout")
        m = re.compile(spellings[piece]).match(text, pos)
        if not m:
            raise _not_ours(origin, text, pos, f"the {piece} value")
        values[piece] = m.group(0)
        pos = m.end()
    if pos != len(text):
        raise _not_ours(origin, text, pos, "the end of the file")
    return values


def _ints(raw: str, array: Array, origin: str) -> list[int]:
    """The values of ``array``'s body ``raw``: its one spelling, its length and its value range."""
    try:
        vals = [int(v) for v in raw.replace("\n", " ").replace(",", " ").split()]
    except ValueError:
        vals = None
    if vals is None or spell_array(vals, array.per_line) != raw:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {array.symbol} is not spelled as the "
            f"generator writes it: {array.per_line} decimal values a line, no leading zeros or signs)"
        )
    if len(vals) != array.length:
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {array.symbol} holds {len(vals)} values; "
            f"its declared size is {array.length})"
        )
    if vals and not (array.lo <= min(vals) and max(vals) <= array.hi):
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (array {array.symbol} holds a value outside "
            f"[{array.lo}, {array.hi}])"
        )
    return vals


def _check_values(v: dict[str, str], depth: int, origin: str) -> tuple[dict, Layout]:
    """The numbers of a parsed pair, checked against every invariant the generator guarantees (sizes that follow
    from the layout and fit the allow-list, value ranges the C relies on), and the pair's layout."""

    def bad(why: str) -> ArtifactError:
        return ArtifactError(f"{origin}: not an edgemnist-generated C kernel ({why})")

    described = layout.fields(depth)
    ints = [name for name, f in described.items() if f.kind == "int"]
    n = {k: int(v[k]) for k in ints}
    if any(str(n[k]) != v[k] for k in ints):
        raise bad("a constant is not spelled as the generator writes it (no leading zeros, no -0)")
    for field in ("version", "source_name", "tools"):
        if any(bad_text in v[field] for bad_text in ("*/", "/*", "??", "\\", '"')):
            raise bad(f"its {field} holds characters the generator never writes")
    for name, f in described.items():
        if f.kind != "float":
            continue
        try:
            spelled = c_float(float(v[name][:-1]))
        except ValueError:
            spelled = None
        if spelled != v[name]:
            raise bad(f"{name} {v[name]!r} is not spelled as the generator writes a float32")
    widths = [n["n_in"]] + [n[f"rows{i}"] for i in range(1, depth + 1)]
    if n["n_out"] != widths[-1] or any(n[f"inputs{i}"] != widths[i - 1] for i in range(1, depth + 1)):
        raise bad("its layer sizes do not chain from its input size to its output size")
    shape = Layout.of_widths(widths, left_shifts=bool(n["left_shifts"]))
    problems = shape.problems()
    if problems:
        raise bad(problems[0])
    derived = shape.derived()
    for k, want in derived.items():
        if k not in n and v[k] != want:
            raise bad(f"its {k} is {v[k]!r}; the generator writes {want!r} for a {shape.describe()} kernel")
    expect = {
        **{k: want for k, want in derived.items() if k in n},
        **{f"fc{x.index}_act_min": max(layout.INT8[0], n[f"fc{x.index}_out_zp"]) for x in shape.layers if x.relu},
        "in_zp": -128,
        "sm_diff_min": -quant.calculate_input_radius(quant.SCALED_DIFF_INTEGER_BITS, n["sm_shift"])
        if 0 <= n["sm_shift"] <= 30
        else None,
    }
    for k, want in expect.items():
        if n[k] != want:
            raise bad(f"{k} is {n[k]}; the generator writes {want} for a {shape.describe()} kernel")
    for k in [f"fc{layer.index}_out_zp" for layer in shape.layers] + ["out_zp"]:
        if not layout.INT8[0] <= n[k] <= layout.INT8[1]:
            raise bad(f"{k} {n[k]} is not an int8 zero point")
    lo, hi = layout.MULTIPLIER_RANGE
    if not lo <= n["sm_mult"] <= hi:
        raise bad("the softmax multiplier is outside [2^30, 2^31)")
    arrays = {}
    for layer in shape.layers:
        w_a, b_a, m_a, s_a = layer.arrays(shape.shifts)
        w, b, m, s = (_ints(v[a.field], a, origin) for a in (w_a, b_a, m_a, s_a))
        if any(x and not lo <= x <= hi for x in m):
            raise bad(f"a layer-{layer.index} multiplier is outside [2^30, 2^31)")
        if any(b[layer.rows :]) or not layer.codec.padding_is_zero(np.asarray(w), layer.rows, layer.inputs):
            raise bad(f"layer {layer.index}'s padding rows or columns are not zero")
        arrays.update({a.field: vals for a, vals in ((w_a, w), (b_a, b), (m_a, m), (s_a, s))})
    return {**n, **arrays}, shape


def check_pair(c_text: bytes, h_text: bytes, origin: str = SOURCE_NAME, h_origin: str = HEADER_NAME) -> dict:
    """Prove that ``c_text`` + ``h_text`` are exactly what the writer writes: both pure ASCII within the size
    limits, every field spelled the one way the layout spells it, every invariant of :func:`_check_values`,
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
    header = _parse(h, layout.TEMPLATES[HEADER_NAME], 0, h_origin, {})
    depth = int(header["n_layers"])
    if str(depth) != header["n_layers"] or not 1 <= depth <= layout.MAX_LAYERS:
        raise ArtifactError(
            f"{h_origin}: not an edgemnist-generated C kernel header ({header['n_layers']} layers; the generator "
            f"writes 1 to {layout.MAX_LAYERS})"
        )
    shared = {k: header[k] for k in layout.SHARED_FIELDS}
    values = _parse(c, layout.TEMPLATES[SOURCE_NAME], depth, origin, shared)
    values.update(header)
    numbers, shape = _check_values(values, depth, origin)
    # Re-fill the templates from the parsed numbers: the layout's own spelling of every value.
    again = dict(values)
    again.update({k: str(numbers[k]) for k, f in layout.fields(depth).items() if f.kind == "int"})
    again.update({a.field: a.spell(numbers[a.field]) for a in shape.arrays()})
    if any(
        layout.template(t, depth).substitute(again) != text
        for t, text in ((layout.TEMPLATES[SOURCE_NAME], c), (layout.TEMPLATES[HEADER_NAME], h))
    ):
        raise ArtifactError(
            f"{origin}: not an edgemnist-generated C kernel (re-rendering its values with "
            f"edgemnist {__version__}'s templates does not give the same bytes)"
        )
    return values
