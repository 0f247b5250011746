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
