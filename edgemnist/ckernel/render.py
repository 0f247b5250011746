"""Render the ``edgemnist_model.c`` + ``edgemnist_model.h`` pair from a :class:`~edgemnist.ckernel.model.Model`.

Rendering is data: :func:`constants` computes every number the C holds (packed weights, biases, TFLM multipliers
and shifts, softmax parameters), and the two templates beside this module (``templates/*.in``, ``string.Template``
placeholders, shipped as package data) only place them. ``render(model)`` returns ``{file name: text}``.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from edgemnist import __version__
from edgemnist.ckernel import quant
from edgemnist.ckernel.model import Dense, Model
from edgemnist.errors import ArtifactError

SOURCE_NAME = "edgemnist_model.c"
HEADER_NAME = "edgemnist_model.h"
ROWS_PER_GROUP = 4
VALUES_PER_LINE = 24


@dataclass(frozen=True)
class Layer:
    """One dense layer as the C holds it."""

    packed: np.ndarray        # int8, the grouped layout the C file documents
    bias: np.ndarray          # int32, padded to a multiple of 4 rows
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
        raise ArtifactError(f"{origin}: a layer's input zero point is {d.input_zero_point}; the C kernel needs -128 "
                            f"(inputs x - zero_point in [0, 255])")
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
    return Layer(packed=pack_weights(d.weights), bias=bias, multipliers=mults, shifts=shifts, groups=groups,
                 output_zero_point=d.output_zero_point, act_min=act_min, act_max=127)


def _array(values, per_line: int = VALUES_PER_LINE) -> str:
    vals = [str(int(v)) for v in values]
    return "\n".join("  " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def _safe(text: str) -> str:
    """Printable ASCII without comment terminators or quotes, for a C comment or string literal."""
    text = re.sub(r"[^ -~]", "?", str(text)).replace("*/", "* /").replace('"', "'").replace("\\", "/")
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
            for k, v in (manifest.get("tools") or {}).items():
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
    const_bytes = (fc1.packed.size + fc2.packed.size + 4 * (fc1.bias.size + fc2.bias.size)
                   + 5 * (n_hidden + n_out) + 28)
    return {
        "n_in": n_in, "n_hidden": n_hidden, "n_out": n_out,
        "hidden_groups": fc1.groups, "out_groups": fc2.groups,
        "w1_len": fc1.packed.size, "w1": _array(fc1.packed), "b1": _array(fc1.bias, 8),
        "m1": _array(fc1.multipliers, 8), "s1": _array(s1),
        "w2_len": fc2.packed.size, "w2": _array(fc2.packed), "b2": _array(fc2.bias, 8),
        "m2": _array(fc2.multipliers, 8), "s2": _array(s2),
        "left_shifts": int(left_shifts), "shift_type": "int8_t" if left_shifts else "uint8_t",
        "shift_meaning": "TFLM's shift (left if positive)" if left_shifts else "the right shift, -shift: no channel "
                         "shifts left",
        "fc1_out_zp": fc1.output_zero_point, "fc1_act_min": fc1.act_min, "fc1_act_max": fc1.act_max,
        "fc2_out_zp": fc2.output_zero_point,
        "sm_mult": sm_mult, "sm_shift": sm_shift, "sm_diff_min": diff_min,
        "const_bytes": const_bytes, "macs": model.macs,
        "in_scale": _c_float(model.fc1.input_scale), "in_zp": model.fc1.input_zero_point,
        "out_scale": _c_float(model.output_scale), "out_zp": model.output_zero_point,
    }


def _template(name: str) -> Template:
    return Template(resources.files("edgemnist.ckernel").joinpath("templates", name).read_text(encoding="utf-8"))


def render(model: Model, *, source: str | Path | None = None, general_shifts: bool = False) -> dict[str, str]:
    """{``edgemnist_model.c``: text, ``edgemnist_model.h``: text} for ``model`` (read from ``source``)."""
    values = constants(model, general_shifts=general_shifts)
    tools = _tools(Path(source) if source is not None else None)
    values.update(version=_safe(__version__), source_name=_safe(model.source_name),
                  source_sha256=model.source_sha256,
                  tools=_wrap([_safe(f"{k} {v}") for k, v in tools.items()]))
    return {SOURCE_NAME: _template("kernel.c.in").substitute(values),
            HEADER_NAME: _template("header.h.in").substitute(values)}


def tools(source: str | Path | None = None) -> dict:
    """The tool versions the header records (for the manifest)."""
    return _tools(Path(source) if source is not None else None)


#: The header's #defines read back (name -> parser), the same names the header template writes.
HEADER_MACROS = {
    "EDGEMNIST_INPUT_SIZE": int, "EDGEMNIST_HIDDEN_SIZE": int, "EDGEMNIST_OUTPUT_SIZE": int,
    "EDGEMNIST_ACTIVATION_BYTES": int, "EDGEMNIST_CONST_BYTES": int, "EDGEMNIST_MACS": int,
    "EDGEMNIST_INPUT_SCALE": float, "EDGEMNIST_INPUT_ZERO_POINT": int,
    "EDGEMNIST_OUTPUT_SCALE": float, "EDGEMNIST_OUTPUT_ZERO_POINT": int,
    "EDGEMNIST_SOURCE_NAME": str, "EDGEMNIST_SOURCE_SHA256": str, "EDGEMNIST_GENERATOR": str,
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
        raise ArtifactError(f"{origin}: not an edgemnist C kernel header (missing or malformed: "
                            f"{', '.join(missing)})")
    return values
