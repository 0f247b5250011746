"""The structural checks in front of native runtimes: every exported flatbuffer passes check_tflite, damaged ones
raise only ArtifactError, wrong files name what they are, size bounds, the load-time self-test, and manifest file
names that are never opened as paths."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemnist.errors import ArtifactChangedError, ArtifactError
from edgemnist.flatbuffer import check_tflite
from edgemnist.manifest import manifest_path
from edgemnist.predictor import Predictor
from edgemnist.tflm import reader


@pytest.fixture(scope="module")
def tflite_bytes(export_artifact):
    return export_artifact("tflite", "int8").path.read_bytes()


def test_check_tflite_accepts_every_exported_flatbuffer(export_artifact, micro_pair):
    for mode, io in (
        ("int8", "int8"),
        ("int8", "float"),
        ("dynamic", "float"),
        ("float16", "float"),
        ("float32", "float"),
    ):
        path = export_artifact("tflite", mode, io).path
        check_tflite(path.read_bytes(), str(path))
    check_tflite(reader.read_micro(micro_pair.path).model_bytes, "micro")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_check_tflite_raises_only_artifact_errors(data, tflite_bytes):
    """Damaged flatbuffers (random overwrites of structure bytes, truncations, random bytes) either pass the
    skeleton check or raise ArtifactError: never IndexError, struct.error or a hang."""
    kind = data.draw(st.sampled_from(["overwrite", "truncate", "random"]))
    if kind == "random":
        blob = bytearray(data.draw(st.binary(min_size=8, max_size=4096)))
        blob[4:8] = b"TFL3"
    else:
        blob = bytearray(tflite_bytes)
        if kind == "truncate":
            blob = blob[: data.draw(st.integers(0, len(blob)))]
        for _ in range(data.draw(st.integers(1, 8))):
            region = data.draw(st.sampled_from([(0, 2048), (len(blob) - 4096, len(blob))]))
            pos = data.draw(st.integers(*region).filter(lambda p: 0 <= p < len(blob)))
            blob[pos] = data.draw(st.integers(0, 255))
    try:
        check_tflite(bytes(blob), "x")
    except ArtifactError:
        pass


def test_wrong_files_name_what_they_are(tflite_bytes, export_artifact, tmp_path):
    png = tmp_path / "model.tflite"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ArtifactError, match="looks like a PNG image"):
        Predictor.load(png)
    onnx = tmp_path / "x.tflite"
    shutil.copy(export_artifact("onnx", "int8").path, onnx)
    with pytest.raises(ArtifactError, match="looks like an ONNX model"):
        Predictor.load(onnx)
    flat = tmp_path / "model.onnx"
    flat.write_bytes(tflite_bytes)
    with pytest.raises(ArtifactError, match="looks like a TFLite flatbuffer"):
        Predictor.load(flat)


def test_size_bounds(tmp_path, monkeypatch):
    import edgemnist.predictor.predictor as predictor

    big = tmp_path / "big.onnx"
    with open(big, "wb") as fh:
        fh.truncate(2048)
    monkeypatch.setattr(predictor, "MAX_ARTIFACT_BYTES", 1024)
    with pytest.raises(ArtifactError, match="larger than any onnx model"):
        Predictor.load(big)
    monkeypatch.undo()
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ArtifactError, match="empty"):
        Predictor.load(tmp_path / "empty.tflite")


def test_self_test_refuses_a_model_that_answers_nan(export_artifact, tmp_path):
    """A float32 flatbuffer whose weights decode to NaN passes every structural check and loads; without a
    manifest vouching for it, the load-time self-test refuses it."""
    src = export_artifact("tflite", "float32").path
    data = bytearray(src.read_bytes())
    # The 512x784 float32 kernel is most of the file; overwrite a stretch in its middle with NaNs.
    mid = len(data) // 2 // 16 * 16
    data[mid : mid + 4096] = np.full(1024, np.nan, np.float32).tobytes()
    path = tmp_path / "nan.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not answer a blank and a white test image"):
        Predictor.load(path)
    p = Predictor.load(path, self_test=False)  # asked for: it loads, and answers NaN
    assert not np.isfinite(p.predict_proba(np.full((1, 784), 255, np.uint8))).all()
    shutil.copy(manifest_path(src), manifest_path(path))
    with pytest.raises(ArtifactChangedError):  # with its manifest, the sha256 catches it first
        Predictor.load(path)


def test_manifest_file_names_are_never_paths(export_artifact, tmp_path):
    """Nothing opens a path a manifest names: the Predictor ignores ``artifact.file``; the bench's Keras
    lookup takes ``source.file`` only as a plain name beside the artifact."""
    from edgemnist.bench.keras import find_keras

    src = export_artifact("onnx", "float32").path
    art = tmp_path / "in" / src.name
    art.parent.mkdir()
    shutil.copy(src, art)
    outside = tmp_path / "outside.keras"
    outside.write_bytes(b"PK")
    m = json.loads(manifest_path(src).read_text())
    for name in ("../outside.keras", str(outside), "..", "sub/../../outside.keras"):
        m["artifact"]["file"] = name
        m["source"]["file"] = name
        manifest_path(art).write_text(json.dumps(m))
        assert find_keras([art]) is None
        Predictor.load(art).close()  # artifact.file plays no part in loading


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_load_reads_the_artifact_once_and_runs_the_bytes_it_hashed(fmt, artifact_path, tmp_path, monkeypatch):
    """With a manifest, Predictor.load reads the file once: the sha256 is taken of those bytes and the runtime's
    structural check and session get the same bytes (no second read, no second hash); every check still runs."""
    import builtins

    from edgemnist import fileio
    from edgemnist import manifest as manifest_module
    from edgemnist.predictor import litert
    from edgemnist.predictor import onnx as onnx_backend
    from edgemnist.predictor import predictor as predictor_module

    src = artifact_path(fmt, "int8", "int8" if fmt == "tflite" else "float")
    art = tmp_path / src.name
    shutil.copy(src, art)
    shutil.copy(manifest_path(src), manifest_path(art))
    reads, hashed = [], []
    real_open, real_hash = builtins.open, fileio.sha256_file

    def counting_open(file, mode="r", *args, **kwargs):
        if str(file) == str(art) and "b" in mode:
            reads.append(mode)
        return real_open(file, mode, *args, **kwargs)

    for module in (predictor_module, litert, onnx_backend):
        monkeypatch.setattr(module, "open", counting_open, raising=False)
    for module in (fileio, manifest_module):
        monkeypatch.setattr(module, "sha256_file", lambda p: hashed.append(p) or real_hash(p))
    p = Predictor.load(art)
    assert reads == ["rb"] and hashed == [], (reads, hashed)
    assert p.predict(np.zeros((1, 28, 28), np.uint8)).labels.shape == (1,)
    reads.clear()
    Predictor.load(art, check_hash=False)  # no hash asked for: the backend reads the file itself, once
    assert reads == ["rb"]
    data = bytearray(art.read_bytes())
    data[-1] ^= 1
    art.write_bytes(bytes(data))
    with pytest.raises(ArtifactChangedError):  # the hash of the bytes read still refuses a changed file
        Predictor.load(art)
