"""The C kernel pair is described once (edgemnist.ckernel.layout): the writer writes what it says and the strict
reader accepts exactly that, so changing the description changes both. Fast tier: synthetic models, no TensorFlow,
no compiler."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from edgemnist import modelfacts
from edgemnist.ckernel import layout, reader, writer
from edgemnist.ckernel.layout import HEADER_NAME, SOURCE_NAME, Layout
from edgemnist.ckernel.model import Dense, Model, model_of
from edgemnist.errors import ArtifactError


def random_model(rng: np.random.Generator, widths, *, name: str = "random.int8.tflite") -> Model:
    """A random int8 MLP of ``widths``: ReLU layers' outputs (the next inputs) at zero point -128, as the C needs."""
    scales = [float(np.float32(1 / 255))] + [float(np.float32(s)) for s in rng.uniform(0.02, 0.3, len(widths) - 1)]
    layers = []
    for i in range(len(widths) - 1):
        n, rows = widths[i], widths[i + 1]
        last = i == len(widths) - 2
        layers.append(
            Dense(
                weights=rng.integers(-128, 128, (rows, n), dtype=np.int8),
                bias=rng.integers(-20000, 20000, rows).astype(np.int32),
                weight_scales=tuple(float(np.float32(s)) for s in rng.uniform(0.001, 0.02, rows)),
                input_scale=scales[i],
                input_zero_point=-128,
                output_scale=scales[i + 1],
                output_zero_point=int(rng.integers(-128, 128)) if last else -128,
                relu=not last,
            )
        )
    return Model(
        layers=tuple(layers),
        softmax_beta=1.0,
        softmax_input_scale=layers[-1].output_scale,
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=name,
        source_sha256=f"{int(rng.integers(1 << 62)):064x}",
        source_bytes=0,
    )


def pair(model: Model, **kw) -> tuple[bytes, bytes]:
    out = writer.render(model, **kw)
    return out[SOURCE_NAME].encode(), out[HEADER_NAME].encode()


@pytest.mark.parametrize("seed", range(8))
def test_random_models_round_trip_through_the_reader(seed):
    rng = np.random.default_rng(seed)
    widths = (16 * int(rng.integers(1, 12)), 16 * int(rng.integers(1, 12)), int(rng.integers(1, 24)))
    model = random_model(rng, widths)
    c, h = pair(model, general_shifts=bool(seed % 2))
    values = reader.check_pair(c, h)
    shape = Layout.of_widths(widths, left_shifts=bool(seed % 2))
    for k, want in shape.derived().items():
        assert values[k] == str(want), k
    for d, spec in zip(model.layers, shape.layers, strict=True):
        w, b, m, s = spec.arrays(shape.shifts)
        body = {a.field: [int(x) for x in re.findall(r"-?\d+", values[a.field])] for a in (w, b, m, s)}
        assert len(body[w.field]) == w.length and len(body[b.field]) == b.length
        assert np.array_equal(spec.codec.unpack(np.array(body[w.field], np.int8), spec.rows, spec.inputs), d.weights)
        assert body[b.field][: spec.rows] == d.bias.tolist() and not any(body[b.field][spec.rows :])
        assert len(body[m.field]) == len(body[s.field]) == spec.rows
        assert all(s.lo <= x <= s.hi for x in body[s.field])
    macros = reader.read_header(h.decode())
    for macro in layout.MACROS:
        if macro.kind is int:
            assert macros[macro.name] == int(values[macro.field]), macro.name
        elif macro.kind is float:
            assert layout.c_float(macros[macro.name]) == values[macro.field], macro.name
        else:
            assert values[macro.field] in macros[macro.name], macro.name


def test_every_placeholder_is_described_and_every_description_is_used():
    for depth in range(1, layout.MAX_LAYERS + 1):
        used = {p for t in layout.TEMPLATES.values() for kind, p in layout.pieces(t, depth) if kind == "field"}
        assert used == set(layout.fields(depth)), depth
    header_fields = {p for kind, p in layout.pieces(layout.TEMPLATES[HEADER_NAME], 1) if kind == "field"}
    assert {m.field for m in layout.MACROS} <= header_fields
    assert set(layout.SHARED_FIELDS) <= header_fields


def test_the_arrays_are_per_layer_and_generic():
    shape = Layout.of_widths((784, 512, 10))
    assert [a.symbol for a in shape.arrays()] == [f"em_{k}{i}" for i in (1, 2) for k in "wbms"]
    w2 = shape.layers[1].weights()
    assert (w2.length, w2.ctype, w2.lo, w2.hi) == (12 * 512, "int8_t", -128, 127)
    assert shape.layers[1].biases().length == 12 and shape.layers[1].multipliers().length == 10
    assert shape.layers[0].shifts(shape.shifts).ctype == "uint8_t"
    assert Layout.of_widths((784, 512, 10), left_shifts=True).layers[0].shifts(layout.SIGNED_SHIFTS).lo == -31
    assert shape.macs == 784 * 512 + 512 * 10 and shape.activation_bytes == 512
    assert not shape.problems()


def test_an_array_whose_length_disagrees_with_the_description_is_refused():
    c, h = pair(random_model(np.random.default_rng(1), (32, 16, 10)))
    text = c.decode()
    # em_b2 is described as 12 int32 (10 rows padded to groups of 4): drop its last (padding) line's values.
    start = text.index("static const int32_t em_b2[12] EM_ALIGNED = {\n")
    body_end = text.index("\n};", start)
    lines = text[start:body_end].split("\n")
    assert lines[-1].endswith(", 0, 0,")
    shorter = "\n".join(lines[:-1]) + "\n" + lines[-1][: -len(" 0,")]
    bad = text[:start] + shorter + text[body_end:]
    with pytest.raises(ArtifactError, match=r"array em_b2 holds 11 values; its declared size is 12"):
        reader.check_pair(bad.encode(), h)


def test_a_changed_description_changes_writer_and_reader(monkeypatch):
    model = random_model(np.random.default_rng(2), (48, 32, 10))
    old_c, old_h = pair(model)
    reader.check_pair(old_c, old_h)
    # int32 arrays six a line instead of eight: the writer spells them so, the reader wants that spelling.
    monkeypatch.setattr(layout, "INT32_PER_LINE", 6)
    new_c, new_h = pair(model)
    assert new_c != old_c
    reader.check_pair(new_c, new_h)
    with pytest.raises(ArtifactError, match="array em_b1 is not spelled as the generator writes it: 6 decimal"):
        reader.check_pair(old_c, old_h)
    # A derived size: the flash bytes the header states follow the description in both.
    monkeypatch.setattr(layout, "FIXED_CONST_BYTES", 32)
    newer_c, newer_h = pair(model)
    assert b"#define EDGEMNIST_CONST_BYTES" in newer_h and newer_h != new_h
    reader.check_pair(newer_c, newer_h)
    with pytest.raises(ArtifactError, match="const_bytes is .*; the generator writes"):
        reader.check_pair(new_c, new_h)


def test_layouts_the_templates_cannot_hold_are_refused_saying_what_is_supported():
    nine = (784,) + (16,) * 8 + (10,)
    assert "9 dense layers; the C kernel holds 1 to 8 (Dense+ReLU" in Layout.of_widths(nine).problems()[0]
    assert "each width must be 1 to 4096" in Layout.of_widths((784, 5000, 10)).problems()[0]
    assert not Layout.of_widths((784, 100, 7, 1, 10)).problems() and not Layout.of_widths((3, 10)).problems()
    model = random_model(np.random.default_rng(3), (16, 20, 10))
    deep = dataclasses.replace(model, layers=model.layers[:1] * 8 + model.layers[1:])
    with pytest.raises(
        ArtifactError, match=r"cannot hold a 16 -> 20 -> .* MLP: 9 dense layers; the C kernel holds 1 to 8 "
    ):
        writer.render(deep)


@pytest.mark.parametrize(("rows", "inputs"), [(1, 1), (7, 100), (10, 7), (3, 33), (512, 784)])
def test_any_width_is_padded_in_the_layout_and_split_for_the_fast_paths(rows, inputs):
    w = np.random.default_rng(rows * inputs).integers(-128, 128, (rows, inputs), dtype=np.int8)
    layer = layout.LayerShape(index=1, rows=rows, inputs=inputs, relu=False)
    packed = layer.codec.pack(w)
    assert packed.size == layer.weight_len == layer.groups * 4 * (-(-inputs // 4) * 4)
    assert np.array_equal(layer.codec.unpack(packed, rows, inputs), w)
    assert layer.codec.padding_is_zero(packed, rows, inputs)
    assert layer.words % 4 == 0 and 4 * layer.words + layer.tail == inputs and 0 <= layer.tail < 16
    assert layer.stride * layer.groups == layer.weight_len


def test_every_depth_round_trips_and_names_its_arrays():
    for depth in range(1, layout.MAX_LAYERS + 1):
        rng = np.random.default_rng(depth)
        widths = (int(rng.integers(1, 40)), *(int(x) for x in rng.integers(1, 40, depth - 1)), 10)
        model = random_model(rng, widths)
        c, h = pair(model)
        values = reader.check_pair(c, h)
        assert values["n_layers"] == str(depth) and values["graph"] == Layout.of_widths(widths).graph
        text = c.decode()
        for i in range(1, depth + 1):
            assert f"static const int8_t em_w{i}[" in text and "em_layer(" in text
        assert f"em_w{depth + 1}" not in text


def facts_of(widths, *, relu_last: bool = False) -> modelfacts.ModelFacts:
    """The ModelFacts of an int8 ``widths`` MLP + softmax, as edgemnist.modelfacts reads them from a .tflite."""
    rng = np.random.default_rng(len(widths))
    act = [modelfacts.Tensor("input", (1, widths[0]), modelfacts.INT8, (1 / 255,), (-128,), 0, b"")]
    tensors, ops = list(act), []
    for i, (n, rows) in enumerate(zip(widths, widths[1:], strict=False)):
        last = i == len(widths) - 2
        w = modelfacts.Tensor(
            f"w{i}",
            (rows, n),
            modelfacts.INT8,
            tuple([0.01] * rows),
            tuple([0] * rows),
            0,
            rng.integers(-128, 128, rows * n, dtype=np.int8).tobytes(),
        )
        b = modelfacts.Tensor(f"b{i}", (rows,), modelfacts.INT32, (0.0001,), (0,), 0, bytes(4 * rows))
        y = modelfacts.Tensor(f"y{i}", (1, rows), modelfacts.INT8, (0.1,), (3 if last else -128,), 0, b"")
        x_index = len(tensors) - 1
        tensors += [w, b, y]
        relu = not last or relu_last
        act_code = modelfacts.ACT_RELU if relu else modelfacts.ACT_NONE
        ops.append(
            modelfacts.Operator(
                modelfacts.FULLY_CONNECTED, (x_index, x_index + 1, x_index + 2), (x_index + 3,), act_code, 1.0
            )
        )
    tensors.append(modelfacts.Tensor("probs", (1, widths[-1]), modelfacts.INT8, (1 / 256,), (-128,), 0, b""))
    ops.append(modelfacts.Operator(modelfacts.SOFTMAX, (len(tensors) - 2,), (len(tensors) - 1,), 0, 1.0))
    return modelfacts.ModelFacts(tuple(tensors), tuple(ops), (0,), (len(tensors) - 1,), "m.tflite", "0" * 64, 0)


@pytest.mark.parametrize("hidden", [(), (512,), (100, 7), (1, 33, 5), (16,) * 7])
def test_tflite_graphs_of_any_supported_depth_are_read_and_written(hidden):
    widths = (784, *hidden, 10)
    model = model_of(facts_of(widths))
    assert model.widths == widths and [d.relu for d in model.layers] == [True] * len(hidden) + [False]
    values = reader.check_pair(*pair(model))
    assert values["n_layers"] == str(len(widths) - 1)


def test_other_graphs_are_refused_saying_what_is_supported():
    with pytest.raises(ArtifactError, match=r"0 to 7 FULLY_CONNECTED layers .* RELU, one FULLY_CONNECTED without"):
        model_of(facts_of((784,) + (16,) * 8 + (10,)))
    with pytest.raises(ArtifactError, match="every layer but the last must fuse RELU"):
        model_of(facts_of((784, 32, 10), relu_last=True))


LOW_BIT = [layout.INT4_GROUPED4, layout.INT2_GROUPED4]


def low_bit_model(rng: np.random.Generator, widths, codec: layout.Codec) -> Model:
    """``random_model`` with every hidden layer's weights drawn from ``codec``'s whole range."""
    model = random_model(rng, widths)
    hidden = [
        dataclasses.replace(d, weights=rng.integers(codec.lo, codec.hi + 1, d.weights.shape, dtype=np.int8))
        for d in model.layers[:-1]
    ]
    return dataclasses.replace(model, layers=(*hidden, model.layers[-1]))


@pytest.mark.parametrize("codec", LOW_BIT, ids=lambda c: c.name)
@pytest.mark.parametrize(("rows", "inputs"), [(1, 1), (7, 100), (10, 7), (3, 33), (512, 784)])
def test_low_bit_codecs_round_trip_and_pad_with_zeros(codec, rows, inputs):
    w = np.random.default_rng(rows * inputs).integers(codec.lo, codec.hi + 1, (rows, inputs), dtype=np.int8)
    layer = layout.LayerShape(index=1, rows=rows, inputs=inputs, relu=True, codec=codec)
    packed = layer.codec.pack(w)
    assert packed.dtype == np.uint8 and packed.size == layer.weight_len
    assert layer.weight_len * codec.values_per_byte == layout.INT8_GROUPED4.packed_len(rows, inputs)
    assert np.array_equal(codec.unpack(packed, rows, inputs), w)
    assert codec.padding_is_zero(packed, rows, inputs)
    assert layer.stride * layer.groups == layer.weight_len
    assert layer.weights().ctype == "uint8_t" and (layer.weights().lo, layer.weights().hi) == (0, 255)
    if rows % 4 or inputs % 4:  # a padding weight set to 1 is seen
        full = codec.unpack_padded(packed, rows, inputs)
        full[-1, -1] = 1
        again = codec.pack(full)
        assert not codec.padding_is_zero(again, rows, inputs)


def test_the_low_bit_fields_sit_where_the_kernel_reads_them():
    """One weight at a time: the byte and bit field the C's em_weight and the DSP masks read."""
    for codec in LOW_BIT:
        for r in range(4):
            for t in range(4):
                w = np.zeros((4, 4), np.int8)
                w[r, t] = -1
                packed = codec.pack(w)
                byte, field = codec.place(r, t)
                want = np.zeros(codec.block_bytes, np.uint8)
                want[byte] = ((1 << codec.bits) - 1) << (field * codec.bits)
                assert np.array_equal(packed, want), (codec.name, r, t)
    assert layout.INT4_GROUPED4.pack(np.array([[-8, 7, 0, -1]] + [[0] * 4] * 3, np.int8))[:4].tolist() == [
        0x78,
        0,
        0xF0,
        0,
    ]


@pytest.mark.parametrize("codec", LOW_BIT, ids=lambda c: c.name)
def test_weights_outside_a_codec_are_refused(codec):
    with pytest.raises(ValueError, match=f"{codec.name} holds weights from {codec.lo} to {codec.hi}"):
        codec.pack(np.full((2, 2), codec.hi + 1, np.int8))
    model = random_model(np.random.default_rng(0), (32, 16, 10))  # int8 weights: many beyond the range
    with pytest.raises(ArtifactError, match=rf"layer 1's weights run from .*{codec.bits}-bit weights \({codec.name}\)"):
        writer.render(model, weight_bits=codec.bits)


@pytest.mark.parametrize("codec", LOW_BIT, ids=lambda c: c.name)
@pytest.mark.parametrize("widths", [(784, 512, 10), (7, 33, 5, 10), (17, 10)])
def test_low_bit_pairs_round_trip_through_the_reader(codec, widths):
    rng = np.random.default_rng(len(widths))
    model = low_bit_model(rng, widths, codec)
    c, h = pair(model, weight_bits=codec.bits)
    values = reader.check_pair(c, h)
    shape = Layout.of_widths(widths, hidden=codec)
    assert [x.codec for x in shape.layers] == [codec] * (len(widths) - 2) + [layout.INT8_GROUPED4]
    for k, want in shape.derived().items():
        assert values[k] == str(want), k
    for d, spec in zip(model.layers, shape.layers, strict=True):
        body = np.array([int(x) for x in re.findall(r"-?\d+", values[spec.weights().field])])
        assert np.array_equal(spec.codec.unpack(body, spec.rows, spec.inputs), d.weights)
    text = c.decode()
    assert f"#define EM_BITS1 {codec.bits if len(widths) > 2 else 8}" in text
    assert f"; codec {shape.layers[0].codec.name}. */" in text
    assert int(values["const_bytes"]) == shape.const_bytes < Layout.of_widths(widths).const_bytes or len(widths) == 2
    if widths == (784, 512, 10):
        assert shape.layers[0].weight_len == 784 * 512 * codec.bits // 8


def test_a_low_bit_pair_is_read_strictly():
    codec = layout.INT4_GROUPED4
    model = low_bit_model(np.random.default_rng(5), (33, 7, 10), codec)
    c, h = (x.decode() for x in pair(model, weight_bits=4))
    reader.check_pair(c.encode(), h.encode())

    def refused(text: str, match: str) -> None:
        with pytest.raises(ArtifactError, match=match):
            reader.check_pair(text.encode(), h.encode())

    # The width, the type or the codec name changed alone: the layout's derived values no longer agree.
    refused(c.replace("#define EM_BITS1 4", "#define EM_BITS1 2"), "w1_type|codec1|w1_len|stride1|bits1|holds")
    refused(c.replace("static const uint8_t em_w1[", "static const int8_t em_w1["), "w1_type|not an edgemnist")
    refused(c.replace("codec int4-grouped4. */", "codec int2-grouped4. */"), "codec1")
    # Which low-bit dot products are compiled in follows from the layers: either flag flipped is refused.
    refused(c.replace("#define EM_USES_W4 1", "#define EM_USES_W4 0"), "uses_w4")
    refused(c.replace("#define EM_USES_W2 0", "#define EM_USES_W2 1"), "uses_w2")
    # The last layer stored in 4 bits is refused (it stays int8).
    last = c.replace("#define EM_BITS2 8", "#define EM_BITS2 4")
    refused(last, "not an edgemnist")
    # A packed value out of the byte range, and a padding nibble set.
    body = re.search(r"em_w1\[\d+\] EM_ALIGNED = \{\n(.*?)\n\};", c, flags=re.S).group(1)
    values = [int(v) for v in re.findall(r"\d+", body)]
    refused(c.replace(body, layout.spell_array([256] + values[1:], 24)), r"outside \[0, 255\]")
    full = codec.unpack_padded(np.array(values), 7, 33)
    full[7, 0] = 3  # a padding row
    refused(c.replace(body, layout.spell_array(codec.pack(full).tolist(), 24)), "padding rows or columns")
    assert Layout.of_widths((33, 7, 10), codecs=[codec, codec]).problems() == [
        "the last layer is stored as int4-grouped4; the layer feeding the softmax stays int8"
    ]
