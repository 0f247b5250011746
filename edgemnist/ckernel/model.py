"""The int8 MLP read straight from its ``.tflite`` flatbuffer: no TensorFlow, no LiteRT.

``read_model(path)`` accepts the graphs edgemnist exports in int8 mode, of any depth up to ``MAX_LAYERS``::

    int8 input (1, 784) --FULLY_CONNECTED (per-channel int8 weights, int32 bias, RELU)--> int8 (1, H1) -- ...
    --FULLY_CONNECTED (NONE)--> int8 (1, 10) --SOFTMAX--> int8 (1, 10), scale 1/256, zero point -128

(zero or more Dense+ReLU layers of any width, then one Dense, then the softmax) and refuses anything else (float32
or dynamic-range models, other ops, other shapes) with an ArtifactError that says what was expected. Everything the
C needs (weights, biases, scales, zero points, softmax beta) comes from the file; multipliers are derived from it by
:mod:`edgemnist.ckernel.quant` exactly as TFLM does at ``Prepare``.

The tensors and operators come from the one reader of model files, :mod:`edgemnist.modelfacts`; this module
only checks that they form the graph above and collects what the C needs. The sizes the graph must have are the
model's contract (``edgemnist.spec``: MNIST pixels in, one score per digit out); the depth and widths are the file's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemnist import modelfacts, spec
from edgemnist.ckernel.layout import MAX_LAYERS
from edgemnist.errors import ArtifactError
from edgemnist.flatbuffer import sniff
from edgemnist.modelfacts import ModelFacts, Operator, Tensor, parse_facts

INPUT_SIZE, OUTPUT_SIZE = spec.INPUT_SIZE, spec.NUM_CLASSES
EXPECTED = (
    f"a full-integer int8 .tflite of an MLP (int8 input (1, {INPUT_SIZE}), 0 to {MAX_LAYERS - 1} FULLY_CONNECTED "
    f"layers with per-channel int8 weights and RELU, one FULLY_CONNECTED without activation, SOFTMAX to int8 "
    f"(1, {OUTPUT_SIZE})), as edgemnist's tflite exporter writes in int8 mode"
)


@dataclass(frozen=True)
class Dense:
    """One FULLY_CONNECTED layer: y = clamp(requant(W @ (x - x_zp) + b) + y_zp)."""

    weights: np.ndarray  # int8 (out, in), row-major as in the file
    bias: np.ndarray  # int32 (out,)
    weight_scales: tuple[float, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    relu: bool


@dataclass(frozen=True)
class Model:
    layers: tuple[Dense, ...]  # input to output: Dense+ReLU ..., then the Dense that feeds the softmax
    softmax_beta: float
    softmax_input_scale: float
    output_scale: float
    output_zero_point: int
    source_name: str
    source_sha256: str
    source_bytes: int

    @property
    def widths(self) -> tuple[int, ...]:
        """Input size, then each layer's outputs."""
        return (int(self.layers[0].weights.shape[1]), *(int(d.weights.shape[0]) for d in self.layers))

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image, from the layers' weight shapes (as ``ModelFacts.macs``)."""
        return int(sum(d.weights.size for d in self.layers))


def _fail(origin: str, why: str) -> ArtifactError:
    return ArtifactError(f"{origin}: cannot generate C from it: {why}; expected {EXPECTED}")


def _activation(origin: str, t: Tensor, what: str, size: int | None = None) -> None:
    if t.dtype != modelfacts.INT8:
        raise _fail(origin, f"the {what} is {t.type_name}, not int8")
    if len(t.scales) != 1 or len(t.zero_points) != 1 or not t.scales[0] > 0:
        raise _fail(origin, f"the {what} has no single positive scale and zero point")
    if size is not None and (len(t.shape) != 2 or t.shape[-1] != size):
        raise _fail(origin, f"the {what} has shape {list(t.shape)}, not (1, {size})")


def _dense(origin: str, tensors: tuple[Tensor, ...], op: Operator, n_in: int | None, what: str) -> Dense:
    code, inputs, outputs = op.code, op.inputs, op.outputs
    if code != modelfacts.FULLY_CONNECTED or len(inputs) != 3 or len(outputs) != 1 or min(inputs) < 0:
        raise _fail(
            origin, f"{what} is {op.name} with {len(inputs)} inputs, not a FULLY_CONNECTED with weights and bias"
        )
    x, w, b, y = tensors[inputs[0]], tensors[inputs[1]], tensors[inputs[2]], tensors[outputs[0]]
    _activation(origin, x, f"input of {what}", n_in)
    _activation(origin, y, f"output of {what}")
    if w.dtype != modelfacts.INT8 or len(w.shape) != 2 or not w.data:
        raise _fail(
            origin, f"the weights of {what} are not constant int8 (out, in) (got {w.type_name} {list(w.shape)})"
        )
    out, n = w.shape
    if x.shape[-1] != n or y.shape[-1] != out:
        raise _fail(origin, f"{what}: shapes do not chain ({list(x.shape)} x {list(w.shape)} -> {list(y.shape)})")
    if len(w.data) != out * n:
        raise _fail(origin, f"the weights of {what} hold {len(w.data)} bytes, not {out * n}")
    if (
        len(w.scales) != out
        or w.quantized_dimension != 0
        or any(z != 0 for z in w.zero_points)
        or not all(s > 0 for s in w.scales)
    ):
        raise _fail(
            origin,
            f"the weights of {what} are not per-channel int8 ({out} positive scales on dimension 0, zero point 0)",
        )
    if b.dtype != modelfacts.INT32 or b.shape != (out,) or len(b.data) != 4 * out:
        raise _fail(origin, f"the bias of {what} is not constant int32 ({out},) (got {b.type_name} {list(b.shape)})")
    act = op.activation
    if act not in (modelfacts.ACT_NONE, modelfacts.ACT_RELU):
        raise _fail(origin, f"{what} fuses {modelfacts.ACT_NAMES.get(act, act)}; only RELU or none are supported")
    return Dense(
        weights=np.frombuffer(w.data, np.int8).reshape(out, n).copy(),
        bias=np.frombuffer(b.data, "<i4").astype(np.int32),
        weight_scales=w.scales,
        input_scale=x.scales[0],
        input_zero_point=int(x.zero_points[0]),
        output_scale=y.scales[0],
        output_zero_point=int(y.zero_points[0]),
        relu=act == modelfacts.ACT_RELU,
    )


def parse_model(data: bytes, origin: str, name: str | None = None) -> Model:
    """The Model in ``data`` (the bytes of a .tflite); ArtifactError saying what was expected otherwise."""
    return model_of(parse_facts(data, origin), name)


def model_of(facts: ModelFacts, name: str | None = None) -> Model:
    """The int8 MLP in ``facts`` (``edgemnist.modelfacts``); ArtifactError saying what was expected otherwise."""
    origin, tensors, ops = facts.origin, facts.tensors, facts.operators
    graph_in, graph_out = facts.graph_inputs, facts.graph_outputs
    codes = [op.code for op in ops]
    depth = len(ops) - 1
    if (
        not 1 <= depth <= MAX_LAYERS
        or codes[:-1] != [modelfacts.FULLY_CONNECTED] * depth
        or codes[-1] != modelfacts.SOFTMAX
    ):
        raise _fail(origin, f"its operators are {[op.name for op in ops] or 'none'}")
    if len(graph_in) != 1 or len(graph_out) != 1:
        raise _fail(origin, f"it has {len(graph_in)} inputs and {len(graph_out)} outputs, not 1 and 1")
    first = tensors[graph_in[0]]
    if first.dtype == modelfacts.FLOAT32:
        raise _fail(origin, "its input is float32 (a float or dynamic-range model, or int8 with float I/O)")
    layers: list[Dense] = []
    for i, op in enumerate(ops[:-1]):
        n_in = INPUT_SIZE if i == 0 else layers[-1].weights.shape[0]
        layers.append(_dense(origin, tensors, op, n_in, f"layer {i + 1}"))
    chained = ops[0].inputs[0] == graph_in[0] and all(
        ops[i].inputs[0] == ops[i - 1].outputs[0] for i in range(1, depth)
    )
    if not chained or ops[-1].inputs != (ops[-2].outputs[0],) or ops[-1].outputs != (graph_out[0],):
        raise _fail(origin, "its operators are not chained input -> FC -> ... -> FC -> SOFTMAX -> output")
    if any(not d.relu for d in layers[:-1]) or layers[-1].relu:
        raise _fail(origin, "every layer but the last must fuse RELU, and the last none")
    if layers[-1].weights.shape[0] != OUTPUT_SIZE:
        raise _fail(origin, f"the last layer has {layers[-1].weights.shape[0]} outputs, not {OUTPUT_SIZE}")
    out = tensors[graph_out[0]]
    _activation(origin, out, "softmax output", OUTPUT_SIZE)
    if out.scales[0] != 1.0 / 256 or out.zero_points[0] != -128:
        raise _fail(
            origin,
            f"the softmax output has scale {out.scales[0]} and zero point {out.zero_points[0]}, "
            f"not 1/256 and -128 (what TFLM's int8 softmax requires)",
        )
    return Model(
        layers=tuple(layers),
        softmax_beta=ops[-1].beta,
        softmax_input_scale=layers[-1].output_scale,
        output_scale=out.scales[0],
        output_zero_point=int(out.zero_points[0]),
        source_name=name or origin,
        source_sha256=facts.sha256,
        source_bytes=facts.bytes,
    )


def read_model(path: str | Path) -> Model:
    """The Model in the .tflite at ``path`` (see the module doc); ArtifactError if it is anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc}); expected {EXPECTED}") from None
    if data[4:8] != b"TFL3":
        guess = sniff(data)
        raise _fail(str(path), "it is not a TFLite flatbuffer" + (f" (it looks like {guess})" if guess else ""))
    return parse_model(data, str(path), path.name)
