"""The Predictor on every backend x artifact kind of the registry, in the real runtimes, on real MNIST.

Artifacts come from the session fixture ``export_artifact`` (exported and verified once per session, shared
with test_export.py); the Keras case is the session's trained model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edgemnist.errors import (
    ArtifactChangedError,
    ArtifactError,
    ConfigError,
    GateError,
    InputError,
    ManifestError,
    MissingDependencyError,
)
from edgemnist.formats import FORMATS
from edgemnist.manifest import manifest_path
from edgemnist.predictor import Backend, Prediction, Predictor, TensorSpec, is_pixel_scale

# Every (format, mode, io) the registry can export, plus the Keras source model.
CASES = [(f.name, m.name, io) for f in FORMATS.values() if f.exporter for m in f.modes for io in m.io]
CASES.append(("keras", "float32", "float"))
IDS = [f"{f}-{m}-{io}" for f, m, io in CASES]

# Max |probability - Keras| per mode, and how often the labels must agree with Keras.
TOLERANCE = {"float32": (1e-5, 1.0), "float16": (2e-3, 1.0), "dynamic": (0.06, 0.99), "int8": (0.08, 0.98)}

N = 300  # = N_REFERENCE of tests/conftest.py (the reference fixture)


def _batches(p, images, size):
    return np.concatenate([p.predict_proba(images[i : i + size]) for i in range(0, len(images), size)])


@pytest.mark.parametrize("fmt,mode,io", CASES, ids=IDS)
def test_every_artifact_predicts_like_keras(fmt, mode, io, artifact_path, reference, mnist):
    path = artifact_path(fmt, mode, io)
    p = Predictor.load(path)
    images, labels = mnist.test_images[:N], mnist.test_labels[:N]
    assert p.format == fmt and p.quantization == mode and p.path == path
    proba = p.predict_proba(images)
    assert proba.dtype == np.float32 and proba.shape == (N, 10)
    atol, agree = TOLERANCE[mode]
    assert np.abs(proba - reference).max() <= atol
    assert np.mean(proba.argmax(1) == reference.argmax(1)) >= agree
    assert np.mean(proba.argmax(1) == labels) >= 0.96
    assert np.allclose(proba.sum(axis=1), 1.0, atol=0.02)
    assert proba.min() >= 0.0 and proba.max() <= 1.0

    # Every accepted input form gives the same answer: uint8 (N, 28, 28) / (N, 784), floats in [0, 1].
    flat = images.reshape(N, 784)
    assert np.array_equal(p.predict_proba(flat), proba)
    assert np.array_equal(p.predict_proba(flat.astype(np.float32) / np.float32(255)), proba)
    assert np.array_equal(p.predict_proba(images / 255.0), proba)  # float64
    # Batch sizes 1, 7 and 300 agree (ONNX dynamic quantization runs one image per call, so it does too).
    tol = 1e-6
    assert np.abs(_batches(p, images[:70], 7) - proba[:70]).max() <= tol
    singles = np.concatenate([p.predict_proba(images[i]) for i in range(0, 30)])
    assert np.abs(singles - proba[:30]).max() <= tol

    pred, proba7 = p.predict(images[:7]), p.predict_proba(images[:7])
    assert isinstance(pred, Prediction)
    assert pred.labels.dtype == np.int64 and pred.confidences.dtype == np.float32
    assert np.array_equal(pred.labels, proba7.argmax(1))
    assert np.array_equal(pred.confidences, proba7.max(1))
    labels1, conf1 = p.predict(images[0])
    assert labels1.shape == (1,) and conf1.shape == (1,)
    assert p.input.shape[-1] == 784 and p.output.shape[-1] == 10
    p.close()


@pytest.mark.parametrize("fmt,mode,io", CASES, ids=IDS)
def test_manifest_and_runtime_agree(fmt, mode, io, artifact_path):
    p = Predictor.load(artifact_path(fmt, mode, io))
    assert p.manifest is not None and p.manifest["verification"]["passed"]
    for key, seen in (("input", p.input), ("output", p.output)):
        assert not TensorSpec.from_dict(p.manifest[key]).mismatch(seen)
    info = p.describe()
    assert info["format"] == fmt and info["runtime"] == FORMATS[fmt].runtime and info["bytes"] > 0
    assert json.dumps(info)  # plain data


@pytest.mark.parametrize(
    "fmt,mode,io",
    [c for c in CASES if c[0] in ("tflite", "onnx")],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c[0] in ("tflite", "onnx")],
)
def test_facts_come_from_the_model_when_there_is_no_manifest(fmt, mode, io, artifact_path, tmp_path, mnist):
    src = artifact_path(fmt, mode, io)
    lone = tmp_path / f"copy{src.suffix}"  # a name that says nothing about the mode
    shutil.copy(src, lone)
    with_manifest = Predictor.load(src)
    p = Predictor.load(lone)
    assert p.manifest is None
    assert p.quantization == mode  # LiteRT: read from the tensors; ONNX: from the model's metadata
    assert not p.input.mismatch(with_manifest.input) and not p.output.mismatch(with_manifest.output)
    assert np.array_equal(p.predict_proba(mnist.test_images[:50]), with_manifest.predict_proba(mnist.test_images[:50]))


class Recording(Backend):
    """A Backend wrapper that keeps what the Predictor hands the runtime (also shows the ABC is small)."""

    runtime = "recording"

    def __init__(self, inner: Backend) -> None:
        self.inner, self.input, self.output, self.seen = inner, inner.input, inner.output, []

    def run(self, x):
        self.seen.append(x.copy())
        return self.inner.run(x)


def test_int8_pixels_map_exactly_with_integers(int8_path):
    p = Predictor.load(int8_path)
    assert p.input.dtype == "int8" and p.input.zero_point == -128 and is_pixel_scale(p.input)
    rec = Recording(p.backend)
    q = Predictor(rec, manifest=p.manifest)
    pixels = np.resize(np.arange(256, dtype=np.uint8), (4, 784))  # every pixel value, several times
    by_int = q.predict_proba(pixels)
    by_float = q.predict_proba(pixels / 255.0)  # the float quantization path: round(x / scale) + zero point
    int_codes, float_codes = rec.seen
    assert int_codes.dtype == np.int8 and int_codes.flags.c_contiguous
    assert np.array_equal(int_codes, (pixels.astype(np.int16) - 128).astype(np.int8))
    assert np.array_equal(int_codes, float_codes)
    assert np.array_equal(by_int, by_float)
    # Dequantization: (q - zero_point) * scale, from the output tensor's own parameters.
    raw = p.backend.run(int_codes)
    expect = (raw.astype(np.float64) - p.output.zero_point) * p.output.scale
    assert np.array_equal(by_int, expect.astype(np.float32))


TFLITE = [c for c in CASES if c[0] == "tflite"]


@pytest.mark.parametrize("fmt,mode,io", TFLITE, ids=[f"{f}-{m}-{i}" for f, m, i in TFLITE])
def test_zero_copy_path_equals_set_tensor_path(fmt, mode, io, artifact_path, mnist):
    """LiteRT's bound fast path (convert straight into the interpreter's buffers) == run() (set/get_tensor)."""
    p = Predictor.load(artifact_path(fmt, mode, io))
    assert p.backend.details()["zero_copy"] is True
    slow = Predictor(Recording(p.backend), manifest=p.manifest)
    for n in (1, 7, 300, 1, 2, 300):  # every change of batch size re-allocates and re-takes the views
        images = mnist.test_images[n : 2 * n]
        assert np.array_equal(p.predict_proba(images), slow.predict_proba(images))
        assert np.array_equal(p.predict_proba(images / 255.0), slow.predict_proba(images / 255.0))


def test_dynamic_onnx_rows_are_independent_of_their_batch(artifact_path, mnist, tmp_path):
    """ORT's DynamicQuantizeLinear scales over the whole input; the backend runs one image per call, decided
    from the graph, the model's metadata or the manifest: any one of them is enough."""
    from edgemnist.predictor.onnx import OnnxBackend

    path = artifact_path("onnx", "dynamic", "float")
    images = mnist.test_images[:40]
    p = Predictor.load(path)
    singles = np.concatenate([p.predict_proba(images[i]) for i in range(len(images))])
    assert np.array_equal(p.predict_proba(images), singles)
    assert np.array_equal(_batches(p, images, 7), singles)
    lone = tmp_path / "copy.onnx"  # no manifest: the graph and the metadata still say so
    shutil.copy(path, lone)
    assert np.array_equal(Predictor.load(lone).predict_proba(images), singles)
    backend = OnnxBackend(path)
    backend._per_row = False  # as if neither the graph scan nor the metadata had noticed
    batched = backend.run(images.reshape(-1, 784).astype(np.float32) / np.float32(255))
    assert np.abs(batched - singles).max() > 0  # batching really does change the answers
    q = Predictor(backend, manifest=p.manifest)  # the manifest says "dynamic": per image again
    assert np.array_equal(q.predict_proba(images), singles)


class _HidePrivate:
    """An ORT InferenceSession without its private ``_sess``; counts calls of the public ``run``."""

    def __init__(self, sess, hide: bool) -> None:
        self._wrapped, self._hide, self.public_runs = sess, hide, 0

    def __getattr__(self, name):
        if name == "_sess" and self._hide:
            raise AttributeError(name)
        return getattr(self._wrapped, name)

    def run(self, *args):
        self.public_runs += 1
        return self._wrapped.run(*args)


def test_private_api_fallbacks_equal_the_fast_paths(artifact_path, mnist, monkeypatch):
    """LiteRT without ``Interpreter._interpreter`` and ORT without ``InferenceSession._sess`` use the public
    methods, with bit-identical results."""
    from edgemnist.predictor import litert
    from edgemnist.predictor import onnx as onnx_backend

    int8 = artifact_path("tflite", "int8", "int8")
    fast = Predictor.load(int8)
    monkeypatch.setattr(litert, "_PRIVATE", litert._PRIVATE + ("NoSuchPrivateMethod",))  # detection fails
    slow = Predictor.load(int8)
    assert fast.backend.details()["zero_copy"] is True and slow.backend.details()["zero_copy"] is False
    assert slow.backend.bind(lambda x, b: None, np.array) is None
    for n in (1, 7, 300, 1, 2):  # batch changes re-allocate through the public resize too
        images = mnist.test_images[n : 2 * n]
        assert np.array_equal(slow.predict_proba(images), fast.predict_proba(images))
        assert np.array_equal(slow.predict_proba(images / 255.0), fast.predict_proba(images / 255.0))

    f32 = artifact_path("onnx", "float32", "float")
    real_open = onnx_backend._open  # (session, operator types): what OnnxBackend opens its session with
    wrappers = []

    def open_session(path, threads=1, data=None, hide=True):
        sess, ops = real_open(path, threads, data)
        wrappers.append(_HidePrivate(sess, hide))
        return wrappers[-1], ops

    monkeypatch.setattr(onnx_backend, "_open", lambda p, t=1, d=None: open_session(p, t, d, hide=False))
    fast = Predictor.load(f32)
    monkeypatch.setattr(onnx_backend, "_open", open_session)
    slow = Predictor.load(f32)
    for n in (1, 7, 300):
        images = mnist.test_images[n : 2 * n]
        assert np.array_equal(slow.predict_proba(images), fast.predict_proba(images))
    assert wrappers[0].public_runs == 0 and wrappers[1].public_runs > 0  # fast: C++ session; slow: public run


def test_float_io_model_gets_the_essays_preprocessing(artifact_path, mnist):
    p = Predictor.load(artifact_path("tflite", "float32", "float"))
    rec = Recording(p.backend)
    Predictor(rec, manifest=p.manifest).predict_proba(mnist.test_images[:3])
    from edgemnist.model import preprocess

    assert rec.seen[0].dtype == np.float32 and np.array_equal(rec.seen[0], preprocess(mnist.test_images[:3]))


BAD_INPUTS = [
    (None, "numpy array"),
    ("digit.png", "numpy array"),
    (3.0, "numpy array"),
    ({"a": 1}, "numpy array"),
    ([[1, 2], [3]], "numpy array"),
    (np.zeros((0, 784), np.uint8), "empty batch"),
    (np.zeros((0, 28, 28), np.uint8), "empty batch"),
    (np.zeros((2, 783), np.uint8), "shape"),
    (np.zeros((28, 27), np.uint8), "shape"),
    (np.zeros((1, 1, 28, 28), np.uint8), "shape"),
    (np.zeros((), np.uint8), "shape"),
    (np.zeros((28, 28), bool), "dtype bool"),
    (np.zeros((28, 28), np.int64), "astype(np.uint8)"),
    (np.zeros((28, 28), np.int8), "dtype int8"),
    (np.zeros((28, 28), np.float16), "dtype float16"),
    (np.zeros((28, 28), complex), "dtype complex128"),
    (np.array([["a"] * 784]), "dtype <U1"),
    (np.empty((1, 784), object), "dtype object"),
    (np.full((28, 28), np.nan, np.float32), "NaN"),
    (np.full((1, 784), np.inf), "infinity"),
    (np.full((28, 28), 2.0), "[0, 1]"),
    (np.full((28, 28), -0.5, np.float32), "[0, 1]"),
    (np.full((3, 784), 255.0), "divide by 255"),
]


@pytest.mark.parametrize("bad,message", BAD_INPUTS, ids=[f"{i}-{m}" for i, (_, m) in enumerate(BAD_INPUTS)])
def test_bad_inputs_say_what_was_expected(bad, message, int8_path):
    p = Predictor.load(int8_path)
    with pytest.raises(InputError, match=None) as info:
        p.predict_proba(bad)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InputError):
        p.predict(bad)


def test_odd_layouts_are_accepted(int8_path, mnist):
    p = Predictor.load(int8_path)
    images = mnist.test_images[:20]
    want = p.predict_proba(images)
    wide = np.zeros((20, 28, 56), np.uint8)
    wide[:, :, ::2] = images
    assert np.array_equal(p.predict_proba(wide[:, :, ::2]), want)  # strided
    assert np.array_equal(p.predict_proba(np.asfortranarray(images.reshape(20, 784))), want)
    assert np.array_equal(p.predict_proba(images[0].reshape(784)), want[:1])  # one flat image
    assert np.array_equal(p.predict_proba((images / 255.0).tolist()), want)  # nested lists of floats
    assert np.array_equal(p.predict_proba(images.astype(">f4") / 255), want)  # big-endian floats
    assert np.array_equal(p.predict_proba(np.full((1, 784), -0.0)), p.predict_proba(np.zeros((1, 784), np.uint8)))


# --------------------------------------------------------------------------- loading and manifests


def _copy(src, dst_dir, name=None):
    dst = dst_dir / (name or src.name)
    shutil.copy(src, dst)
    if manifest_path(src).exists():
        shutil.copy(manifest_path(src), manifest_path(dst))
    return dst


def _edit_manifest(path, edit):
    mp = manifest_path(path)
    data = json.loads(mp.read_text())
    edit(data)
    mp.write_text(json.dumps(data))


def test_changed_artifact_is_refused(int8_path, tmp_path):
    path = _copy(int8_path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactChangedError, match="changed since export") as info:
        Predictor.load(path)
    assert info.value.exit_code == 1
    Predictor.load(path, check_hash=False)  # opt-out: still a valid flatbuffer


@pytest.mark.parametrize(
    "lie,edit",
    [
        ("input shape", lambda m: m["input"].update(shape=[-1, 100])),
        ("output shape", lambda m: m["output"].update(shape=[-1, 12])),
        ("input scale", lambda m: m["input"].update(scale=m["input"]["scale"] * 2)),
        ("output zero point", lambda m: m["output"].update(zero_point=0)),
        ("input dtype", lambda m: m["input"].update(dtype="float32", scale=None, zero_point=None)),
        ("format", lambda m: m.update(format="onnx", quantization="int8")),
    ],
)
def test_a_manifest_that_lies_is_refused(lie, edit, int8_path, tmp_path):
    path = _copy(int8_path, tmp_path)
    _edit_manifest(path, edit)
    with pytest.raises(ManifestError, match="manifest"):
        Predictor.load(path)


def test_onnx_manifest_lie_is_refused(artifact_path, tmp_path):
    path = _copy(artifact_path("onnx", "int8", "float"), tmp_path)
    _edit_manifest(path, lambda m: m["input"].update(dtype="int8", scale=0.1, zero_point=0))
    with pytest.raises(ManifestError, match="dtype int8 vs float32"):
        Predictor.load(path)


def test_unverified_artifact_needs_allow_unverified(int8_path, tmp_path):
    path = _copy(int8_path, tmp_path)
    _edit_manifest(path, lambda m: m["verification"].update(passed=False, reasons=["accuracy 12% < 97.38%"]))
    with pytest.raises(GateError, match="accuracy 12%") as info:
        Predictor.load(path)
    assert info.value.exit_code == 1
    assert Predictor.load(path, allow_unverified=True).predict_proba(np.zeros((28, 28), np.uint8)).shape == (1, 10)


def test_bad_manifest_json_is_a_manifest_error(int8_path, tmp_path):
    path = _copy(int8_path, tmp_path)
    manifest_path(path).write_text("{not json")
    with pytest.raises(ManifestError):
        Predictor.load(path)


def test_load_errors(tmp_path, int8_path):
    with pytest.raises(ArtifactError, match="no such model file"):
        Predictor.load(tmp_path / "missing.tflite")
    with pytest.raises(ArtifactError, match="unknown model file type"):
        Predictor.load(tmp_path / "model.pt")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(ArtifactError, match="not a file"):
        Predictor.load(tmp_path / "dir.onnx")
    for name in ("junk.tflite", "junk.onnx", "empty.tflite"):
        (tmp_path / name).write_bytes(b"" if name.startswith("empty") else b"\x00not a model" * 50)
        with pytest.raises(ArtifactError, match="not a loadable"):
            Predictor.load(tmp_path / name)
    for threads in (0, -1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="threads"):
            Predictor.load(int8_path, threads=threads)
    assert Predictor.load(int8_path, threads=2).threads == 2


def test_device_path_imports_no_heavy_library(int8_path, artifact_path):
    paths = [
        str(int8_path),
        str(artifact_path("onnx", "float32", "float")),
        str(artifact_path("onnx", "int8", "float")),
    ]
    code = f"""
import sys, numpy as np
from edgemnist.predictor import Predictor
for path in {paths!r}:
    p = Predictor.load(path, threads=1)
    p.predict_proba(np.zeros((3, 28, 28), np.uint8)); p.predict(np.zeros((28, 28)))
    p.describe()
roots = {{m.split('.')[0] for m in sys.modules}}
heavy = sorted(roots & {{'tensorflow', 'keras', 'matplotlib', 'rich', 'PIL', 'jax', 'torch'}})
print('HEAVY', heavy)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_tflite_start_up_imports_nothing_raw_litert_does_not_need(int8_path):
    """Device start-up: loading a .tflite and predicting adds no dataclasses, threading or
    unicodedata to what numpy + ai_edge_litert import anyway (each costs milliseconds per fresh process)."""
    code = f"""
import sys, numpy as np
from edgemnist.predictor import Predictor
p = Predictor.load({str(int8_path)!r}, threads=1)
p.predict(np.zeros((28, 28), np.uint8))
print('EXTRA', sorted(m for m in ('dataclasses', 'threading', 'unicodedata', 'hashlib') if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "EXTRA []" in proc.stdout


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_litert_falls_back_to_tf_lite_only_without_ai_edge_litert(int8_path, monkeypatch, mnist):
    from edgemnist.predictor import litert

    want = Predictor.load(int8_path).predict_proba(mnist.test_images[:10])
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    cls, package = litert._interpreter_class()
    assert package == "tensorflow"
    p = Predictor.load(int8_path)
    assert np.array_equal(p.predict_proba(mnist.test_images[:10]), want)
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(
        MissingDependencyError, match=r"install the 'litert' extra: pip install 'edgemnist-[^']+\.whl\[litert\]'"
    ):
        Predictor.load(int8_path)


def test_missing_onnxruntime_names_the_extra(artifact_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        MissingDependencyError, match=r"install the 'onnx' extra: pip install 'edgemnist-[^']+\.whl\[onnx\]'"
    ):
        Predictor.load(artifact_path("onnx", "float32", "float"))


def test_context_manager_and_repr(int8_path):
    with Predictor.load(int8_path) as p:
        assert "tflite" in repr(p) and "int8" in repr(p)
        assert p(np.zeros((28, 28), np.uint8)).labels.shape == (1,)


def test_load_reads_the_manifest_once_or_takes_the_record_handed_to_it(int8_path, data_dir, manifest_reads, capsys):
    from edgemnist.cli import main

    with Predictor.load(int8_path) as p:
        record = p.manifest
    assert dict(manifest_reads) == {int8_path.name: 1}
    manifest_reads.clear()
    with Predictor.load(int8_path, manifest=record) as q:
        assert q.manifest is record and q.input.scale == record["input"]["scale"]
    assert not manifest_reads
    changed = {**record, "artifact": {**record["artifact"], "sha256": "0" * 64}}
    with pytest.raises(ArtifactChangedError):  # a record handed along is checked like one read here
        Predictor.load(int8_path, manifest=changed)
    with pytest.raises(ConfigError, match="signature"):
        Predictor.load(int8_path, manifest=record, public_key=b"unused")
    manifest_reads.clear()
    for argv in (["info", str(int8_path)], ["evaluate", str(int8_path), "--data-dir", str(data_dir)]):
        assert main(argv) == 0
        assert dict(manifest_reads) == {int8_path.name: 1}, argv
        manifest_reads.clear()
    capsys.readouterr()
