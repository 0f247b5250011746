"""Write the ``edgemnist_model.c`` + ``edgemnist_model.h`` pair of a :class:`~edgemnist.ckernel.model.Model`.

Writing is data: :func:`constants` computes every number the C holds (packed weights, biases, TFLM multipliers
and shifts, softmax parameters) as the :class:`~edgemnist.ckernel.layout.Layout` of the model describes them,
and the templates (``templates/*.in``) only place them. ``render(model)`` returns ``{file name: text}``.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import numpy as np

from edgemnist import __version__
from edgemnist.ckernel import layout, quant
from edgemnist.ckernel.layout import HEADER_NAME, SOURCE_NAME, Layout
from edgemnist.ckernel.model import Dense, Model
from edgemnist.errors import ArtifactError

__all__ = ["HEADER_NAME", "SOURCE_NAME", "constants", "layout_of", "render", "tools"]


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


def _tools(source: Path | None) -> dict:
    tools = {"edgemnist": __version__, "python": platform.python_version(), "numpy": np.__version__}
    if source is not None:
        try:
            manifest = json.loads(Path(str(source) + ".json").read_text())
            for k, v in list((manifest.get("tools") or {}).items())[: layout.MAX_TOOLS]:
                if isinstance(v, str):
                    tools.setdefault(f"source:{k}", v)
        except (OSError, ValueError, AttributeError):
            pass
    return tools


def _requant(d: Dense, origin: str) -> tuple[list[int], list[int]]:
    if d.input_zero_point != -128:
        raise ArtifactError(
            f"{origin}: a layer's input zero point is {d.input_zero_point}; the C kernel needs -128 "
            f"(inputs x - zero_point in [0, 255])"
        )
    mults, shifts = quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)
    lo, hi = layout.MULTIPLIER_RANGE
    if any(not (m == 0 or lo <= m <= hi) for m in mults):  # em_requant relies on it
        raise ArtifactError(f"{origin}: a requantization multiplier is outside [2^30, 2^31)")
    lo, hi = layout.TFLM_SHIFT_RANGE
    if any(not lo <= s <= hi for s in shifts):
        raise ArtifactError(f"{origin}: a requantization shift is outside [{lo}, {hi}]")
    return mults, shifts


def layout_of(model: Model, *, left_shifts: bool = False) -> Layout:
    """The layout of ``model``'s pair; ArtifactError saying what the C kernel supports when it cannot hold it."""
    out = Layout.of_widths(model.widths, left_shifts=left_shifts)
    problems = out.problems()
    if problems:
        raise ArtifactError(f"{model.source_name}: the C kernel cannot hold a {out.describe()} MLP: {problems[0]}")
    return out


def constants(model: Model, *, general_shifts: bool = False) -> dict:
    """Every value the C holds, by template placeholder. ``general_shifts`` keeps TFLM's signed shifts and the
    left-shift step even when no channel needs it (a test of that code path)."""
    origin = model.source_name
    layers = model.layers
    shape = layout_of(model)  # the shape is checked before anything is computed
    requant = [_requant(d, origin) for d in layers]
    for prev, d in zip(layers, layers[1:], strict=False):
        if d.input_zero_point != prev.output_zero_point or d.input_scale != prev.output_scale:
            raise ArtifactError(f"{origin}: a layer's input quantization differs from the previous layer's output")
    sm_mult, sm_shift, diff_min = quant.softmax_params(model.softmax_beta, model.softmax_input_scale)
    left = general_shifts or any(sh > 0 for _, shifts in requant for sh in shifts)
    # Without positive shifts the C stores right shifts (uint8) and compiles the left-shift step out.
    shape = Layout(shape.layers, layout.shift_mode(left))
    values: dict = dict(shape.derived())
    for d, spec, (mults, shifts) in zip(layers, shape.layers, requant, strict=True):
        w, b, m, s = spec.arrays(shape.shifts)
        bias = np.zeros(spec.padded_rows, np.int32)
        bias[: spec.rows] = d.bias
        values[w.field] = w.spell(spec.codec.pack(d.weights))
        values[b.field] = b.spell(bias)
        values[m.field] = m.spell(mults)
        values[s.field] = s.spell(shape.shifts.store(shifts))
        values[f"fc{spec.index}_out_zp"] = d.output_zero_point
        if spec.relu:  # TFLM CalculateActivationRangeQuantized: RELU -> [max(-128, zp + round(0 / s)), 127]
            values[f"fc{spec.index}_act_min"] = max(layout.INT8[0], d.output_zero_point)
    values.update(
        sm_mult=sm_mult,
        sm_shift=sm_shift,
        sm_diff_min=diff_min,
        in_scale=layout.c_float(layers[0].input_scale),
        in_zp=layers[0].input_zero_point,
        out_scale=layout.c_float(model.output_scale),
        out_zp=model.output_zero_point,
    )
    return values


def render(model: Model, *, source: str | Path | None = None, general_shifts: bool = False) -> dict[str, str]:
    """{``edgemnist_model.c``: text, ``edgemnist_model.h``: text} for ``model`` (read from ``source``)."""
    values = constants(model, general_shifts=general_shifts)
    values.update(
        version=_safe(__version__),
        source_name=_safe(model.source_name),
        source_sha256=model.source_sha256,
        tools=_wrap([_safe(f"{k} {v}") for k, v in tools(source).items()]),
    )
    depth = len(model.layers)
    return {name: layout.template(t, depth).substitute(values) for name, t in layout.TEMPLATES.items()}


def tools(source: str | Path | None = None) -> dict:
    """The tool versions the header records (for the manifest)."""
    return _tools(Path(source) if source is not None else None)
