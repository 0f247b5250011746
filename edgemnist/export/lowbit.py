"""Low-bit layer-1 weights inside an ordinary int8 .tflite: every hidden-layer weight takes one of 2^bits values.

``quantize(model, bits, data, seed)`` -> ``(tflite bytes, LowBitRecipe)``. The file is a plain int8 model
(int8 weights and activations, int32 biases) that LiteRT and TFLite Micro run unchanged; only the stored int8
values of the first FULLY_CONNECTED's filter are restricted to a level set a C kernel can unpack from packed
storage without a codebook:

- 4 bits: ``int4``, the integers -7..7 (scale = clip / 7);
- 2 bits: ``int2``, LiteRT's INT2 range -2..1 (two's complement in 2 bits; scale = clip / 2), or ``odd2``,
  the odd levels -3, -1, 1, 3 (w = 2i - 3 from a 2-bit index i; scale = clip / 3).

The recipe, deterministic for a given seed:

1. Per output channel, symmetric levels ``scale_c * level``; the clip (``scale_c * max|level|``) is searched
   among ``CLIP_RATIOS`` of the channel's max |w| by one of ``CLIP_RULES``: ``weight-mse`` (least squared error
   of the weights) or ``output-mse`` (least squared error of the channel's pre-activation on a held-back slice
   of the training set: (w - q)^T G (w - q), G the slice's input Gram matrix). Never the test set.
2. Optionally (``qat_epochs`` > 0) a quantization-aware fine-tune in Keras: the hidden kernel is snapped to its
   grid in the forward pass with a straight-through estimator (gradient of the identity), scales fixed, every
   weight trainable, Adam, on the training images outside the held-back slice; then the kernel is snapped.
3. A Keras model whose hidden kernel is exactly ``scale_c * level`` is converted by the normal int8 converter
   (``edgemnist.export.converter.convert``) with the usual calibration images, so the activation ranges are
   calibrated with the low-bit layer in place. Layer 2 stays 8-bit: it holds about 1 % of the weights.
4. The converter stores that kernel as round(level * 127 / max|level|) with scale max|w| / 127; the filter's
   int8 data are rewritten in place to the levels themselves with scale ``scale_c`` (the same real weights),
   and the hidden bias to round(b / (s_in * scale_c)) with its scale. Nothing else in the file changes; the
   rewrite is read back and checked.

Around it, for the exporters: ``pack`` stores the same levels as ``INT4`` / ``INT2`` (two or four per byte, low
bits first, as LiteRT reads them); ``stored_filter`` / ``weight_facts`` / ``weight_problems`` read back what a
file stores (the manifest's ``weights`` section and its check); ``gridded_model`` is the Keras model with the
file's hidden weights (what ONNX is converted from); ``per_tensor_packed`` is a different model, one scale for
the whole filter, packed: the form to try in TFLite Micro.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.export.config import DEFAULT_CALIBRATION_SAMPLES, calibration_set
from edgemnist.fileio import sha256_bytes


@dataclass(frozen=True)
class LevelSet:
    """An arithmetic progression of int8 values: ``start + step * i`` for i in 0..count-1."""

    name: str
    start: int
    step: int
    count: int

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(self.start + self.step * i for i in range(self.count))

    @property
    def top(self) -> int:
        """max |level|: the clip is ``scale * top``."""
        return max(abs(v) for v in self.values)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """The nearest level to each ``u`` (in units of the scale), as int8 (ties: half to even)."""
        i = np.clip(np.round((u - self.start) / self.step), 0, self.count - 1)
        return (self.start + self.step * i).astype(np.int8)


LEVEL_SETS = {
    "int4": LevelSet("int4", -7, 1, 15),
    "odd2": LevelSet("odd2", -3, 2, 4),
    "int2": LevelSet("int2", -2, 1, 4),
}
#: The level sets each bit width may use; the first is the default.
BITS = {4: ("int4",), 2: ("int2", "odd2")}
CLIP_RULES = ("output-mse", "weight-mse")
#: Candidate clips, as fractions of a channel's max |w|.
CLIP_RATIOS = tuple(round(0.20 + 0.01 * i, 2) for i in range(181))
#: Training images held back for the output-mse clip search (the rest fine-tune when qat_epochs > 0).
HELD_BACK = 5000
QAT_LEARNING_RATE = 1e-4
QAT_BATCH = 128


@dataclass(frozen=True)
class LowBitRecipe:
    """What ``quantize`` applied, for the manifest (``to_dict``)."""

    bits: dict[str, int]
    levels: str
    level_values: tuple[int, ...]
    clip_rule: str
    clip_ratios: str
    clips: dict[str, Any]
    seed: int
    held_back: dict[str, Any]
    qat: dict[str, Any] | None
    calibration: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["level_values"] = list(self.level_values)
        return d


def level_set(bits: int, levels: str | None = None) -> LevelSet:
    if not (isinstance(bits, int) and not isinstance(bits, bool) and bits in BITS):
        raise ConfigError(f"low-bit weights take {' or '.join(map(str, BITS))} bits, got {bits!r}")
    name = BITS[bits][0] if levels is None else levels
    if name not in BITS[bits]:
        raise ConfigError(f"{bits}-bit levels are one of {', '.join(BITS[bits])}, got {levels!r}")
    return LEVEL_SETS[name]


def _dense_layers(model) -> tuple[Any, Any]:
    dense = [layer for layer in model.layers if layer.weights]
    shapes = [tuple(w.shape) for layer in dense for w in layer.weights]
    n = shapes[0][-1] if shapes and shapes[0] else 0
    k = shapes[-1][-1] if shapes and shapes[-1] else 0
    if len(dense) != 2 or shapes != [(spec.INPUT_SIZE, n), (n,), (n, k), (k,)]:
        raise ArtifactError(
            f"low-bit weights are for one hidden layer: expected the {spec.INPUT_SIZE} -> N -> K MLP, "
            f"got {len(dense)} dense layers with weights {shapes}"
        )
    return dense[0], dense[1]


def _same_shape(model):
    """A fresh Keras model of ``model``'s shape (784 -> N -> K), for weights set by hand."""
    from edgemnist.model import build_model

    hidden, out = _dense_layers(model)
    return build_model(hidden=(int(hidden.weights[0].shape[-1]),), num_classes=int(out.weights[0].shape[-1]))


def _held_back(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    order = np.random.default_rng(seed).permutation(n)
    held, rest = np.sort(order[:HELD_BACK]).astype("<i8"), np.sort(order[HELD_BACK:]).astype("<i8")
    return (
        held,
        rest,
        {
            "split": "train",
            "count": HELD_BACK,
            "seed": int(seed),
            "sampler": f"numpy.random.default_rng(seed).permutation({n})[:count], sorted",
            "indices_sha256": sha256_bytes(held.tobytes()),
        },
    )


def clip_search(kernel: np.ndarray, levels: LevelSet, rule: str, gram: np.ndarray | None = None) -> np.ndarray:
    """Per output channel (column of ``kernel``, shape (K, N)) the clip in ``CLIP_RATIOS`` * max|w| with the
    least ``rule`` error; returns the float32 scales (clip / max|level|)."""
    if rule not in CLIP_RULES:
        raise ConfigError(f"clip rule is one of {', '.join(CLIP_RULES)}, got {rule!r}")
    w = kernel.astype(np.float64)
    peak = np.abs(w).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    best, best_cost = None, None
    for ratio in CLIP_RATIOS:
        scale = (peak * ratio / levels.top).astype(np.float32)
        d = w - levels.snap(w / scale).astype(np.float64) * scale
        cost = (d * d).sum(axis=0) if rule == "weight-mse" else ((gram @ d) * d).sum(axis=0)
        if best is None:
            best, best_cost = scale, cost
        else:
            better = cost < best_cost
            best, best_cost = np.where(better, scale, best), np.where(better, cost, best_cost)
    return best.astype(np.float32)


def _fine_tune(
    model, scales: np.ndarray, levels: LevelSet, x: np.ndarray, y: np.ndarray, epochs: int, seed: int
) -> list[np.ndarray]:
    """Keras QAT: the hidden kernel snapped to ``scales * levels`` in the forward pass (straight-through
    estimator), ``epochs`` of Adam on (x, y). Returns the trained [kernel, bias, kernel2, bias2]."""
    from edgemnist._deps import keras as _keras
    from edgemnist._deps import tensorflow as _tf

    keras, tf = _keras(), _tf()
    ops = keras.ops
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    hidden, out = _dense_layers(model)
    k1, b1 = (np.asarray(v) for v in hidden.get_weights())
    scale = ops.convert_to_tensor(scales.reshape(1, -1))

    class SnappedDense(keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=k1.shape, initializer="zeros", name="kernel")
            self.bias = self.add_weight(shape=b1.shape, initializer="zeros", name="bias")

        def call(self, inputs):
            i = ops.clip(ops.round((self.kernel / scale - levels.start) / levels.step), 0, levels.count - 1)
            snapped = (levels.start + levels.step * i) * scale
            kernel = self.kernel + ops.stop_gradient(snapped - self.kernel)
            return ops.relu(ops.matmul(inputs, kernel) + self.bias)

    inputs = keras.Input(shape=(spec.INPUT_SIZE,))
    snapped = SnappedDense()
    classes = int(out.get_weights()[1].shape[0])
    head = keras.layers.Dense(classes, activation="softmax")
    qat = keras.Model(inputs, head(snapped(inputs)))
    snapped.set_weights([k1, b1])
    head.set_weights(out.get_weights())
    qat.compile(optimizer=keras.optimizers.Adam(learning_rate=QAT_LEARNING_RATE), loss="categorical_crossentropy")
    labels = np.eye(classes, dtype=np.float32)[y]
    qat.fit(x, labels, epochs=epochs, batch_size=QAT_BATCH, shuffle=True, verbose=0)
    return [np.asarray(v) for v in snapped.get_weights() + head.get_weights()]


def quantize(
    model,
    bits: int,
    data,
    seed: int = 0,
    *,
    levels: str | None = None,
    clip_rule: str = "output-mse",
    qat_epochs: int = 0,
    io: str = "int8",
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
) -> tuple[bytes, LowBitRecipe]:
    """The int8 .tflite of Keras ``model`` with ``bits``-bit hidden weights (module doc), and its recipe.

    ``data`` is an ``edgemnist.data.Mnist``; only its training images and labels are read."""
    from edgemnist.export.converter import convert

    grid = level_set(bits, levels)
    if clip_rule not in CLIP_RULES:
        raise ConfigError(f"clip rule is one of {', '.join(CLIP_RULES)}, got {clip_rule!r}")
    if not (isinstance(qat_epochs, int) and not isinstance(qat_epochs, bool) and 0 <= qat_epochs <= 100):
        raise ConfigError(f"QAT epochs must be an integer from 0 to 100, got {qat_epochs!r}")
    if io not in ("int8", "float"):
        raise ConfigError(f"I/O is int8 or float, got {io!r}")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32):
        raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {seed!r}")
    hidden, out = _dense_layers(model)
    kernel, bias = (np.asarray(v, np.float32) for v in hidden.get_weights())
    held, rest, held_recipe = _held_back(len(data.train_images), seed)
    gram = None
    if clip_rule == "output-mse":
        x_held = spec.to_unit_floats(data.train_images[held]).astype(np.float64)
        gram = x_held.T @ x_held / len(x_held)
    scales = clip_search(kernel, grid, clip_rule, gram)
    weights = [kernel, bias] + [np.asarray(v, np.float32) for v in out.get_weights()]
    qat = None
    if qat_epochs:
        weights = _fine_tune(
            model, scales, grid, spec.to_unit_floats(data.train_images[rest]), data.train_labels[rest], qat_epochs, seed
        )
        qat = {
            "epochs": qat_epochs,
            "optimizer": "adam",
            "learning_rate": QAT_LEARNING_RATE,
            "batch_size": QAT_BATCH,
            "seed": int(seed),
            "estimator": "straight-through (identity gradient)",
            "images": f"the {len(rest)} training images outside the held-back slice",
            "scales": "fixed",
        }
    k = grid.snap(weights[0] / scales)  # (K, N) levels
    gridded = _same_shape(model)
    gridded.set_weights([(k.astype(np.float32) * scales).astype(np.float32)] + list(weights[1:]))
    calibration = calibration_set(data.train_images, calibration_samples, seed)
    flatbuffer = relevel(convert(gridded, "int8", io, calibration), k.T, scales, np.asarray(weights[1], np.float32))
    peak = np.abs(kernel).max(axis=0)
    ratios = scales.astype(np.float64) * grid.top / np.where(peak > 0, peak, 1.0)
    recipe = LowBitRecipe(
        bits={hidden.name: bits, out.name: 8},
        levels=grid.name,
        level_values=grid.values,
        clip_rule=clip_rule,
        clip_ratios=f"{CLIP_RATIOS[0]:.2f}..{CLIP_RATIOS[-1]:.2f} step 0.01 of each channel's max |w|",
        clips={
            "ratio_min": round(float(ratios.min()), 4),
            "ratio_median": round(float(np.median(ratios)), 4),
            "ratio_max": round(float(ratios.max()), 4),
            "scales_sha256": sha256_bytes(scales.astype("<f4").tobytes()),
        },
        seed=int(seed),
        held_back=held_recipe,
        qat=qat,
        calibration=calibration.recipe,
    )
    return flatbuffer, recipe


# --- the flatbuffer rewrite ---------------------------------------------------------------------------------


def _schema():
    from edgemnist._deps import require

    return require("ai_edge_litert.schema_py_generated", "litert", what="ai-edge-litert")


def hidden_layer(data: bytearray | bytes):
    """(model, filter tensor, bias tensor, input tensor) of the first FULLY_CONNECTED, read with the schema."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    for j in range(graph.OperatorsLength()):
        op = graph.Operators(j)
        if model.OperatorCodes(op.OpcodeIndex()).BuiltinCode() == schema.BuiltinOperator.FULLY_CONNECTED:
            x, w, b = (graph.Tensors(int(i)) for i in op.InputsAsNumpy()[:3])
            return model, w, b, x
    raise ArtifactError("the model has no FULLY_CONNECTED operator")


def _data(model, tensor, dtype) -> np.ndarray:
    """A writable view of ``tensor``'s constant data inside the (bytearray) flatbuffer."""
    return model.Buffers(tensor.Buffer()).DataAsNumpy().view(dtype)


def hidden_filter(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The stored int8 filter (N, K) of the first FULLY_CONNECTED and its per-channel scales, from the file."""
    model, w, _, _ = hidden_layer(data)
    shape = tuple(int(d) for d in w.ShapeAsNumpy())
    return _data(model, w, np.int8).reshape(shape).copy(), w.Quantization().ScaleAsNumpy().copy()


def relevel(flatbuffer: bytes, levels: np.ndarray, scales: np.ndarray, bias: np.ndarray) -> bytes:
    """``flatbuffer`` with the first FULLY_CONNECTED's filter data set to ``levels`` (N, K) int8, its scales to
    ``scales`` and its bias to round(bias / (s_in * scale)): same size, same layout, checked on read-back."""
    out = bytearray(flatbuffer)
    model, w, b, x = hidden_layer(out)
    types = _schema().TensorType
    n, k = levels.shape
    if (
        w.Type() != types.INT8
        or b.Type() != types.INT32
        or tuple(w.ShapeAsNumpy()) != (n, k)
        or w.Quantization().ScaleLength() != n
        or b.Quantization().ScaleLength() != n
        or w.Quantization().QuantizedDimension() != 0
    ):
        raise ArtifactError(f"the first FULLY_CONNECTED is not a per-channel int8 [{n}, {k}] layer with int32 bias")
    s_in = np.float32(x.Quantization().ScaleAsNumpy()[0])
    bias_scale = (s_in * scales).astype(np.float32)
    bias_q = np.clip(np.round(bias.astype(np.float64) / bias_scale.astype(np.float64)), -(2**31), 2**31 - 1)
    _data(model, w, np.int8)[:] = levels.astype(np.int8).ravel()
    w.Quantization().ScaleAsNumpy()[:] = scales.astype(np.float32)
    _data(model, b, "<i4")[:] = bias_q.astype("<i4")
    b.Quantization().ScaleAsNumpy()[:] = bias_scale
    stored, stored_scales = hidden_filter(bytes(out))
    if not (np.array_equal(stored, levels) and np.array_equal(stored_scales, scales.astype(np.float32))):
        raise ArtifactError("the rewritten filter does not read back as written")  # pragma: no cover
    return bytes(out)


# --- packed storage ------------------------------------------------------------------------------------------

#: Sub-byte TensorTypes of the TFLite schema by width, and the level sets each can store (two's complement).
PACKED_TYPES = {4: "INT4", 2: "INT2"}
PACKABLE = {"INT4": ("int4",), "INT2": ("int2",)}


def pack_bits(levels: np.ndarray, bits: int) -> np.ndarray:
    """``levels`` (int8, flattened row-major) as ``bits``-bit two's complement, 8 / bits per byte, the first
    element in the lowest bits (LiteRT's packing); the last byte is padded with zeros."""
    per, mask = 8 // bits, (1 << bits) - 1
    v = levels.astype(np.int8).ravel().view(np.uint8) & mask
    v = np.concatenate([v, np.zeros((-len(v)) % per, np.uint8)]).reshape(-1, per)
    out = np.zeros(len(v), np.uint8)
    for i in range(per):
        out |= (v[:, i] << (bits * i)).astype(np.uint8)
    return out


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The inverse of ``pack_bits``: ``count`` int8 values, sign-extended."""
    per, mask = 8 // bits, (1 << bits) - 1
    p = np.asarray(packed, np.uint8)
    v = np.stack([(p >> (bits * i)) & mask for i in range(per)], axis=1).ravel()[:count].astype(np.int16)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v).astype(np.int8)


def _flatbuffers():
    from edgemnist._deps import require

    return require("flatbuffers", "litert", what="flatbuffers")


def pack(flatbuffer: bytes, bits: int) -> bytes:
    """The int8 low-bit ``flatbuffer`` (``quantize``) with its hidden filter stored packed as ``INT4`` / ``INT2``
    (same levels, same per-channel scales, every other tensor unchanged), rebuilt with the schema's object API;
    the levels are read back and checked."""
    if bits not in PACKED_TYPES:
        raise ConfigError(f"packed weights take {' or '.join(map(str, PACKED_TYPES))} bits, got {bits!r}")
    schema = _schema()
    flatbuffers = _flatbuffers()
    levels, _ = hidden_filter(flatbuffer)
    top = 1 << (bits - 1)
    if levels.min() < -top or levels.max() > top - 1:
        raise ArtifactError(f"the hidden filter's levels {levels.min()}..{levels.max()} do not fit INT{bits}")
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    graph = model.subgraphs[0]
    fc = next(
        op
        for op in graph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.FULLY_CONNECTED
    )
    tensor = graph.tensors[fc.inputs[1]]
    model.buffers[tensor.buffer].data = pack_bits(levels, bits)
    tensor.type = getattr(schema.TensorType, PACKED_TYPES[bits])
    builder = flatbuffers.Builder(len(flatbuffer))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = bytes(builder.Output())
    stored, kind, _ = stored_filter(out)
    if kind != PACKED_TYPES[bits] or not np.array_equal(stored, levels):
        raise ArtifactError("the packed filter does not read back as the int8 levels")  # pragma: no cover
    return out


def stored_filter(data: bytes) -> tuple[np.ndarray, str, int]:
    """The first FULLY_CONNECTED's filter levels (N, K) int8 (unpacked when stored as INT4 / INT2), its stored
    type name and the bytes its buffer holds."""
    schema = _schema()
    model, w, _, _ = hidden_layer(data)
    names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    kind = names.get(w.Type(), str(w.Type()))
    shape = tuple(int(d) for d in w.ShapeAsNumpy())
    raw = model.Buffers(w.Buffer()).DataAsNumpy()
    raw = np.zeros(0, np.uint8) if isinstance(raw, int) else raw
    count = int(np.prod(shape))
    if kind == "INT8":
        levels = raw.view(np.int8)[:count]
    elif kind in PACKABLE:
        levels = unpack_bits(raw, {v: k for k, v in PACKED_TYPES.items()}[kind], count)
    else:
        raise ArtifactError(f"the hidden filter is stored as {kind}, not INT8, INT4 or INT2")
    return levels.reshape(shape).copy(), kind, int(raw.size)


def weight_facts(data: bytes, recipe: LowBitRecipe | None) -> dict[str, Any]:
    """The manifest's ``weights`` section: the bits per layer and the recipe that was applied (``recipe``), and
    what the file itself stores for the hidden layer (type, bytes, the most distinct values of any channel)."""
    levels, kind, nbytes = stored_filter(data)
    distinct = max(len(np.unique(row)) for row in levels)
    facts: dict[str, Any] = {
        "bits": dict(recipe.bits) if recipe is not None else None,
        "hidden_stored": {
            "type": kind.lower(),
            "packed": kind != "INT8",
            "bytes": nbytes,
            "values": sorted(int(v) for v in np.unique(levels)),
            "max_distinct_per_channel": int(distinct),
        },
    }
    if recipe is not None:
        facts["recipe"] = recipe.to_dict()
    return facts


def weight_problems(facts: dict[str, Any], bits: int, packed: bool) -> list[str]:
    """Every way a ``weight_facts`` section differs from ``bits``-bit hidden weights, packed or not."""
    stored = facts["hidden_stored"]
    problems = []
    if stored["max_distinct_per_channel"] > 2**bits:
        problems.append(
            f"a hidden channel holds {stored['max_distinct_per_channel']} distinct weights, more than 2^{bits}"
        )
    want = PACKED_TYPES[bits].lower() if packed else "int8"
    if stored["type"] != want:
        problems.append(f"the hidden filter is stored as {stored['type']}, expected {want}")
    if (facts.get("bits") or {}).get(HIDDEN_LAYER) != bits:
        problems.append(f"the recipe states {facts.get('bits')} bits, expected {bits} for the hidden layer")
    return problems


#: The Keras name of the layer whose weights go low-bit (the first Dense); the output layer stays 8-bit.
HIDDEN_LAYER = "hidden"


def gridded_model(model, flatbuffer: bytes):
    """A Keras copy of ``model`` whose hidden kernel is exactly the levels x scales ``flatbuffer`` stores (what
    ``quantize`` converted, without fine-tuning): the float source of the other formats' low-bit exports."""

    hidden, out = _dense_layers(model)
    levels, _, _ = stored_filter(flatbuffer)
    scales, _ = hidden_filter_scales(flatbuffer)
    copy = _same_shape(model)
    kernel = (levels.T.astype(np.float32) * scales.astype(np.float32)).astype(np.float32)
    copy.set_weights([kernel, np.asarray(hidden.get_weights()[1], np.float32)] + list(out.get_weights()))
    return copy


def hidden_filter_scales(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(per-channel scales of the hidden filter, scale of its input) read from the file."""
    _, w, _, x = hidden_layer(data)
    return w.Quantization().ScaleAsNumpy().copy(), x.Quantization().ScaleAsNumpy().copy()


# --- the per-tensor packed variant (what TFLite Micro's packed kernels take) ---------------------------------


def per_tensor_packed(
    model, bits: int, data, seed: int = 0, *, calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
) -> tuple[bytes, dict[str, Any]]:
    """A different model from ``quantize``'s: ONE scale for the whole hidden filter (per-tensor), its clip the
    ``output-mse`` best among ``CLIP_RATIOS`` of the filter's max |w| on the same held-back training slice, int8
    activations calibrated as usual, the filter stored packed (``INT4`` / ``INT2``). Returns the flatbuffer and
    a short recipe. TFLite Micro's packed kernels take per-tensor weight scales; this is the form to try there."""
    from edgemnist.export.converter import convert

    if bits not in PACKED_TYPES:
        raise ConfigError(f"packed weights take {' or '.join(map(str, PACKED_TYPES))} bits, got {bits!r}")
    schema = _schema()
    flatbuffers = _flatbuffers()
    grid = LEVEL_SETS[BITS[bits][0]]
    hidden, out = _dense_layers(model)
    kernel, bias = (np.asarray(v, np.float32) for v in hidden.get_weights())
    held, _, held_recipe = _held_back(len(data.train_images), seed)
    x = spec.to_unit_floats(data.train_images[held]).astype(np.float64)
    gram = x.T @ x / len(x)
    peak = float(np.abs(kernel).max()) or 1.0
    w = kernel.astype(np.float64)
    best = None
    for ratio in CLIP_RATIOS:
        scale = np.float32(peak * ratio / grid.top)
        d = w - grid.snap(w / scale).astype(np.float64) * scale
        cost = float(((gram @ d) * d).sum())
        if best is None or cost < best[0]:
            best = (cost, scale, ratio)
    _, scale, ratio = best
    levels = grid.snap(kernel / scale)  # (K, N)
    gridded = _same_shape(model)
    gridded.set_weights([(levels.astype(np.float32) * scale).astype(np.float32), bias] + list(out.get_weights()))
    flatbuffer = convert(gridded, "int8", "int8", calibration_set(data.train_images, calibration_samples, seed))
    m = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    graph = m.subgraphs[0]
    fc = next(
        op
        for op in graph.operators
        if m.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.FULLY_CONNECTED
    )
    xt, wt, bt = (graph.tensors[i] for i in fc.inputs[:3])
    bias_scale = np.float32(np.float32(xt.quantization.scale[0]) * scale)
    wt.quantization.scale, wt.quantization.zeroPoint = np.array([scale], np.float32), np.array([0], np.int64)
    wt.quantization.quantizedDimension = 0
    bt.quantization.scale, bt.quantization.zeroPoint = np.array([bias_scale], np.float32), np.array([0], np.int64)
    bq = np.clip(np.round(bias.astype(np.float64) / np.float64(bias_scale)), -(2**31), 2**31 - 1).astype("<i4")
    m.buffers[bt.buffer].data = bq.view(np.uint8)
    m.buffers[wt.buffer].data = pack_bits(levels.T, bits)
    wt.type = getattr(schema.TensorType, PACKED_TYPES[bits])
    builder = flatbuffers.Builder(len(flatbuffer))
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    out_bytes = bytes(builder.Output())
    stored, kind, _ = stored_filter(out_bytes)
    if kind != PACKED_TYPES[bits] or not np.array_equal(stored, levels.T):
        raise ArtifactError("the per-tensor packed filter does not read back as written")  # pragma: no cover
    recipe = {
        "bits": {hidden.name: bits, out.name: 8},
        "levels": grid.name,
        "quantization": "per-tensor",
        "clip_rule": "output-mse",
        "clip_ratio": ratio,
        "seed": int(seed),
        "held_back": held_recipe,
    }
    return out_bytes, recipe
