"""Hardening: hostile arrays (property tests), threads, processes killed mid-write, micro's header landing,
the structural checks in front of native runtimes, the CLI's quiet stderr, and what the code never does
(pickle, eval, unsafe Keras loads, paths taken from manifests).

The corruption corpus itself (damaged files of every kind, every command) is tests/test_corpus.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgemnist import spec
from edgemnist.errors import ArtifactChangedError, ArtifactError, InputError
from edgemnist.fileio import remove_stale_temps, sha256_file, temp_pattern
from edgemnist.flatbuffer import check_tflite
from edgemnist.formats import FORMATS
from edgemnist.manifest import manifest_path, read_manifest
from edgemnist.predictor import Predictor
from edgemnist.tflm import arena as tflm_arena
from edgemnist.tflm import carray, runner

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "edgemnist"


def _cli_env(data_dir, cache) -> dict:
    env = dict(os.environ)
    env.update(EDGEMNIST_DATA_DIR=str(data_dir), XDG_CACHE_HOME=str(cache), EDGEMNIST_MIRRORS="http://127.0.0.1:9/")
    return env


# =========================================================================== property tests of input handling

# Values that probe every edge: the pixel range's ends and beyond, NaN, infinities, signed zero, subnormals.
SPECIAL = [0, 1, 127, 128, 254, 255, 256, -1, -128, 0.0, -0.0, 0.5, 1.0, 1.0000001, 1e-45, -1e-45, 2.0, 255.0,
           1e30, -1e30, float("nan"), float("inf"), float("-inf")]
DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64, np.float16,
          np.float32, np.float64, np.complex64, np.complex128, object, ">f4", "<f8", "U3", "S2"]
SHAPES = st.one_of(
    st.sampled_from([(), (0,), (784,), (28, 28), (0, 784), (0, 28, 28), (1, 1, 28, 28), (2, 784, 1), (783,),
                     (28, 27), (1, 785), (784, 1)]),
    st.tuples(st.integers(1, 6), st.just(28), st.just(28)),
    st.tuples(st.integers(1, 6), st.just(784)),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
)


def _elements(dtype: np.dtype):
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.one_of(st.sampled_from([v for v in SPECIAL if isinstance(v, int) and info.min <= v <= info.max]),
                         st.integers(int(info.min), int(info.max)))
    if dtype.kind == "f":
        width = 8 * dtype.itemsize
        with np.errstate(all="ignore"):  # only the edge values this dtype holds exactly
            exact = [float(v) for v in SPECIAL if np.isnan(v) or float(np.asarray(v, dtype)) == float(v)]
        return st.one_of(st.sampled_from(exact), st.floats(0, 1, width=width),
                         st.floats(allow_nan=True, allow_infinity=True, width=width))
    if dtype.kind == "c":
        return st.complex_numbers(allow_nan=True, allow_infinity=True, width=8 * dtype.itemsize)
    if dtype.kind == "O":
        return st.one_of(st.integers(-300, 300), st.floats(), st.none(), st.text(max_size=2))
    return hnp.from_dtype(dtype)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(SHAPES)
    if int(np.prod(shape)) > 6 * 784:
        shape = (1, 784)
    fill = draw(st.sampled_from(["random", "constant"]))
    if fill == "constant":  # whole images of one edge value (cheap to draw, hits every range check)
        value = draw(_elements(dtype))
        arr = np.empty(shape, dtype=dtype)
        with np.errstate(all="ignore"):
            arr[...] = value
        return arr
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype), fill=_elements(dtype)))


@st.composite
def not_arrays(draw):
    return draw(st.one_of(
        st.none(), st.integers(), st.floats(), st.text(max_size=5), st.binary(max_size=5),
        st.lists(st.floats(0, 1), max_size=784), st.lists(st.lists(st.integers(0, 255), max_size=30), max_size=30),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.just([[0.0] * 784, [0.0] * 783]),
        st.just([[0.5] * 784]), st.just(((0,) * 784,)),
    ))


def _expected_n(x: np.ndarray) -> int | None:
    """How many images the predictor must accept ``x`` as, or None if it must refuse it."""
    shape = x.shape
    if x.dtype == np.uint8 or x.dtype.kind == "f" and x.dtype.itemsize in (4, 8):
        if shape in ((28, 28), (784,)):
            n = 1
        elif len(shape) == 3 and shape[1:] == (28, 28) and shape[0] or len(shape) == 2 and shape[1] == 784 and shape[0]:
            n = shape[0]
        else:
            return None
        if x.dtype.kind == "f":  # checked as float32, the model's own precision
            with np.errstate(all="ignore"):
                y = x.astype(np.float32)
                if not (np.isfinite(y).all() and y.min() >= 0 and y.max() <= 1):
                    return None
        return n
    return None


# int8 outputs move in steps of 1/256 (TFLite) or 1/255 (ONNX QDQ): 10 classes can miss 1 by up to ~10 half-steps.
SUM_ATOL = {"float32": 1e-3, "int8": 0.02}
PROPERTY_CASES = [("tflite", "int8", "int8"), ("onnx", "float32", "float"), ("tflite", "float32", "float"),
                  ("onnx", "int8", "float")]


def _check_answer(p: Predictor, x, mode: str) -> None:
    expect = _expected_n(x) if isinstance(x, np.ndarray) else None
    try:
        proba = p.predict_proba(x)
    except InputError as exc:
        assert isinstance(exc, ValueError)
        assert expect is None, f"refused a valid input {x.dtype} {x.shape}: {exc}"
        assert str(exc) and "\n" not in str(exc)
        return
    if isinstance(x, np.ndarray):
        assert expect is not None, f"accepted {x.dtype} {x.shape}"
        assert proba.shape == (expect, 10)
    assert proba.dtype == np.float32 and proba.ndim == 2 and proba.shape[1] == 10
    assert np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1
    assert np.abs(proba.sum(axis=1, dtype=np.float64) - 1).max() <= SUM_ATOL[mode]


@pytest.fixture(scope="module")
def property_predictors(export_artifact):
    return {c: Predictor.load(export_artifact(*c).path) for c in PROPERTY_CASES}


@pytest.mark.parametrize("case", PROPERTY_CASES, ids=lambda c: "-".join(c))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(x=arrays())
def test_any_array_gives_probabilities_or_input_error(case, x, property_predictors):
    _check_answer(property_predictors[case], x, case[1])


@pytest.mark.parametrize("case", PROPERTY_CASES[:2], ids=lambda c: "-".join(c))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=not_arrays())
def test_anything_else_gives_probabilities_or_input_error(case, x, property_predictors):
    _check_answer(property_predictors[case], x, case[1])


# =========================================================================== threads

# tests/test_predictor.py::test_eight_threads_equal_sequential mixes batch sizes on three backends (60 calls
# per thread); this one covers every backend, both input paths (uint8 pixels and floats), at scale.
THREAD_CASES = [("tflite", "int8", "int8", 500), ("tflite", "float32", "float", 500), ("onnx", "int8", "float", 500),
                ("onnx", "float32", "float", 500), ("micro", "int8", "int8", 60), ("keras", "float32", "float", 60)]


@pytest.mark.parametrize("fmt,mode,io,calls", THREAD_CASES, ids=[f"{c[0]}-{c[1]}" for c in THREAD_CASES])
def test_eight_threads_share_one_predictor_bit_for_bit(fmt, mode, io, calls, export_artifact, model_path, mnist):
    path = model_path if fmt == "keras" else export_artifact(fmt, mode, io).path
    p = Predictor.load(path)
    images = mnist.test_images[:64]
    # Each call: one of 64 single images or a small batch, as uint8 pixels or as floats in [0, 1].
    inputs = [images[i % 64] for i in range(64)] + [images[i:i + 3] for i in range(0, 60, 7)]
    inputs += [x / 255.0 for x in inputs[::5]]
    expected = [p.predict_proba(x) for x in inputs]  # sequential reference
    failures, done = [], [0] * 8
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        rng = random.Random(k)
        try:
            barrier.wait()
            for _ in range(calls):
                i = rng.randrange(len(inputs))
                if not np.array_equal(p.predict_proba(inputs[i]), expected[i]):
                    failures.append((k, i))
                done[k] += 1
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and done == [calls] * 8, failures[:5]


# =========================================================================== processes killed mid-write


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _is_ours(name: str, targets) -> bool:
    return any(temp_pattern(t).match(name) for t in targets)


def _assert_consistent(folder: Path, artifact: str) -> str:
    """No half-written file under a target name: each is complete and valid, and an artifact beside a
    manifest either matches it or is refused by sha256. Returns the state seen."""
    targets = [artifact, artifact + ".json"]
    for name in _hidden(folder):
        assert _is_ours(name, targets), f"unexpected hidden file {name}"
    path, mp = folder / artifact, folder / (artifact + ".json")
    if mp.exists():
        manifest = read_manifest(path, required=True)  # parses and validates: never half a JSON
    else:
        manifest = None
    if not path.exists():
        return "absent"
    loaded = Predictor.load(path, check_hash=False, self_test=True)  # complete: it loads and answers
    loaded.close()
    if manifest is None:
        return "no manifest"
    if manifest["artifact"]["sha256"] == sha256_file(path):
        Predictor.load(path).close()
        return "consistent"
    with pytest.raises(ArtifactChangedError):
        Predictor.load(path)
    return "torn: refused by sha256"


def _kill_when(proc: subprocess.Popen, folder: Path, targets, delay: float, timeout: float = 120) -> str:
    """SIGKILL ``proc`` ``delay`` seconds after one of *its* temporaries for ``targets`` appears in ``folder``
    (or when it exits first). Returns what happened."""
    deadline = time.monotonic() + timeout

    def its_own(name: str) -> bool:
        return any((m := temp_pattern(t).match(name)) and int(m.group(1)) == proc.pid for t in targets)

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"finished (exit {proc.returncode})"
        if folder.is_dir() and any(its_own(n) for n in _hidden(folder)):
            time.sleep(delay)
            if proc.poll() is not None:
                return f"finished (exit {proc.returncode})"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return f"killed {delay:.2f} s into the write"
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    raise AssertionError("the temporary never appeared")


def test_sigkill_during_export_never_leaves_a_half_artifact(export_artifact, model_path, data_dir, tmp_path,
                                                           record_property):
    out = tmp_path / "out"
    out.mkdir()
    # An older, different artifact under the same name, so a torn landing would be visible.
    older = export_artifact("tflite", "int8", "float").path
    shutil.copy(older, out / "model.int8.tflite")
    shutil.copy(manifest_path(older), out / "model.int8.tflite.json")
    assert _assert_consistent(out, "model.int8.tflite") == "consistent"
    argv = [sys.executable, "-m", "edgemnist", "export", "--format", "tflite", "--model", str(model_path),
            "--out", str(out), "--data-dir", str(data_dir)]
    env = _cli_env(data_dir, tmp_path / "cache")
    rng = random.Random(20240607)
    seen = []
    # Seeded random moments, one in each half of the ~1.5 s from the temporary's creation to the landing:
    # conversion/verification, then verification/landing (machine load shifts them; any moment must be safe).
    # Two kills, not more: each costs a TensorFlow import.
    for lo, hi in ((0.0, 0.7), (0.7, 1.5)):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        what = _kill_when(proc, out, ["model.int8.tflite", "model.int8.tflite.json"], rng.uniform(lo, hi))
        seen.append((what, _assert_consistent(out, "model.int8.tflite"), _hidden(out)))
    record_property("kills", json.dumps(seen))
    assert any(hidden for *_, hidden in seen), f"no kill landed mid-write: {seen}"
    # The rerun succeeds, says nothing on stderr (converter and LiteRT noise filtered), and cleans up after
    # the killed runs: no hidden temporaries remain.
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert _assert_consistent(out, "model.int8.tflite") == "consistent"
    assert _hidden(out) == [], seen
    assert read_manifest(out / "model.int8.tflite")["io"] == "int8"  # the new export, not the older one


def test_sigkill_during_training_never_leaves_a_half_model(data_dir, tmp_path, record_property):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "edgemnist", "train", "--epochs", "1", "--batch-size", "1024", "--out", str(out),
            "--data-dir", str(data_dir), "--tolerance", "100"]
    env = _cli_env(data_dir, tmp_path / "cache")
    rng = random.Random(99)
    targets = ["model.keras", "model.keras.json"]
    # Seeded random moments around the save (~0.1 s): while the model is written, and around the manifest's turn.
    seen = []
    for lo, hi in ((0.0, 0.05), (0.05, 0.3)):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        what = _kill_when(proc, out, targets, rng.uniform(lo, hi))
        seen.append((what, _assert_consistent(out, "model.keras"), _hidden(out)))
    record_property("kills", json.dumps(seen))
    assert any(hidden or state != "consistent" for _, state, hidden in seen), f"no kill landed mid-write: {seen}"
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _assert_consistent(out, "model.keras") == "consistent"
    assert _hidden(out) == []


class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files in 16 KB pieces, ``delay`` seconds apart (a flaky link)."""

    delay = 0.0

    def copyfile(self, source, outputfile):
        while chunk := source.read(16384):
            outputfile.write(chunk)
            outputfile.flush()
            time.sleep(self.delay)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _server(root: Path, delay: float):
    handler = functools.partial(type("H", (_SlowHandler,), {"delay": delay}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_killed_midway_leaves_nothing_in_the_cache(data_dir, tmp_path):
    pytest.importorskip("pooch")
    www = tmp_path / "www"
    www.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / name, www / name)
    cache = tmp_path / "xdg"
    code = "from edgemnist.data import load_test; load_test(progress=False); print('ok')"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    env.pop("EDGEMNIST_DATA_DIR", None)
    with _server(www, delay=0.05) as url:  # ~1.6 MB at ~300 KB/s: several seconds
        env["EDGEMNIST_MIRRORS"] = url
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        folder = cache / "edgemnist"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until part of the file has arrived
            partial = [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size > 100_000] \
                if folder.is_dir() else []
            if partial:
                break
            time.sleep(0.02)
        assert partial and proc.poll() is None, "the download never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    visible = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
    assert visible == []  # nothing under a real name: only a hidden .download-<pid>-* folder can remain
    assert all(re.match(r"^\.download-\d+-", n) for n in _hidden(folder))
    with _server(www, delay=0.0) as url:
        env["EDGEMNIST_MIRRORS"] = url
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_stale_temporaries_of_dead_processes_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = time.time() - 3600
        files = {
            f".model.int8.tflite.{dead.pid}.abcdefgh.tmp.tflite": True,  # dead writer, old: stale
            f".model.int8.tflite.json.{dead.pid}.a1b2c3d4.tmp.json": True,
            f".model.int8.tflite.{alive.pid}.abcdefgh.tmp.tflite": False,  # a live writer's work in progress
            f".other.bin.{dead.pid}.abcdefgh.tmp.bin": False,  # not one of the names asked for
            f".model.int8.tflite.{dead.pid}.abc.tmp.tflite": False,  # not our pattern
            "model.int8.tflite": False,  # a target, never touched
        }
        for name in files:
            (tmp_path / name).write_bytes(b"x")
            os.utime(tmp_path / name, (old, old))
        recent = tmp_path / f".model.int8.tflite.{dead.pid}.zzzzzzzz.tmp.tflite"
        recent.write_bytes(b"x")  # written after this process started: not provably stale
        removed = remove_stale_temps(tmp_path, ["model.int8.tflite", "model.int8.tflite.json"])
        assert sorted(p.name for p in removed) == sorted(n for n, stale in files.items() if stale)
        assert recent.exists()
    finally:
        alive.kill()
        alive.wait()


# =========================================================================== micro: header and array travel together


@pytest.fixture(scope="module")
def micro_pair(export_artifact):
    return export_artifact("micro")


def test_rejected_micro_export_leaves_no_header_behind(micro_pair, model_path, mnist, tmp_path):
    """A failed export deletes the old pair and lands the new header as model_data.h.rejected, next to the
    rejected array: no model_data.h claims a model that is not there."""
    from edgemnist.export import ExportConfig, RejectedError, export_prepared, prepare
    from edgemnist.model import build_model, save_model

    for p in (micro_pair.path, manifest_path(micro_pair.path), micro_pair.path.with_name("model_data.h")):
        shutil.copy(p, tmp_path / p.name)
    # An untrained network: runs in TFLM, ~10 % accurate. (An all-zero one does not even run: TFLM aborts
    # on its zero weight scales, and the export fails with a clean ArtifactError instead of a rejection.)
    broken = save_model(build_model(seed=3), tmp_path / "broken" / "model.keras")
    # Verified on 1,000 test images (not 10,000): TFLM's reference kernels are slow, and ~10 % fails anyway.
    small = dataclasses.replace(mnist, test_images=mnist.test_images[:1000], test_labels=mnist.test_labels[:1000])
    with pytest.raises(RejectedError):
        export_prepared(prepare(broken, small), ExportConfig("micro"), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == ["model_data.cc.rejected", "model_data.cc.rejected.json", "model_data.h.rejected"]
    rejected_cc = (tmp_path / "model_data.cc.rejected").read_text()
    rejected_h = (tmp_path / "model_data.h.rejected").read_text()
    model_id = re.search(r"kEdgemnistModelId = (0x[0-9a-f]+ULL)", rejected_h).group(1)
    assert f"static_assert(kEdgemnistModelId == {model_id}," in rejected_cc  # the header of that very array


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_header_of_another_export_does_not_compile(tmp_path):
    """model_data.cc static_asserts the model id model_data.h states: a header and an array from two exports
    (e.g. a kill between the header and the array landing) do not build. (Small stand-in arrays: the real
    pair is compiled in test_micro.py.)"""
    one, other = b"TFL3 model one" * 4, b"TFL3 model two" * 4
    q = runner.Quant(1 / 255, -128)
    (tmp_path / "model_data.h").write_text(carray.render_header(
        model_bytes=one, arena_bytes=1024, arena_min_bytes=1020, input=q, output=q, source=None, source_sha256=None))

    def compiles(model_bytes: bytes) -> subprocess.CompletedProcess:
        (tmp_path / "model_data.cc").write_text(carray.render_source(model_bytes, source_sha256=None))
        return subprocess.run(["g++", "-std=c++17", "-fsyntax-only", str(tmp_path / "model_data.cc")],
                              capture_output=True, text=True)

    ok = compiles(one)
    assert ok.returncode == 0, ok.stderr
    torn = compiles(other)
    assert torn.returncode != 0 and "generated for another model" in torn.stderr


def test_damaged_header_is_not_trusted_and_tflm_runs_only_proven_arenas(micro_pair, tmp_path, mnist):
    header = micro_pair.path.with_name("model_data.h").read_text()
    arena = micro_pair.manifest["micro"]["arena_bytes"]
    shutil.copy(micro_pair.path, tmp_path / "model_data.cc")
    # One digit of the arena changed: the constants no longer agree, so the header is ignored.
    (tmp_path / "model_data.h").write_text(header.replace(f"= {arena};", f"= {arena // 10};"))
    assert carray.read_micro(tmp_path / "model_data.cc").arena_bytes == 0
    # A too-small arena that TFLM would crash on (SIGSEGV) is refused from a child process instead.
    model = carray.read_micro(micro_pair.path).model_bytes
    with pytest.raises(ArtifactError, match="cannot run the model with a 1024-byte arena"):
        tflm_arena.ensure_runs(model, 1024)
    tflm_arena.ensure_runs(model, arena)  # and the real one runs


def test_tflm_wrapper_errors_are_artifact_errors(micro_pair):
    """The TFLM wrapper parses the flatbuffer in Python first and raises struct.error / TypeError, not
    ValueError; MicroRunner turns any of them into ArtifactError. (In a child: this is TFLM.)"""
    code = f"""
from edgemnist.errors import ArtifactError
from edgemnist.tflm import arena as tflm_arena
from edgemnist.tflm import carray
from edgemnist.tflm import runner
model = carray.read_micro({str(micro_pair.path)!r}).model_bytes
for cut in (1000, 100000):
    try:
        runner.MicroRunner(model[:cut], 1 << 20)
    except ArtifactError as exc:
        assert "TFLite Micro cannot load" in str(exc), exc
    else:
        raise SystemExit("loaded a truncated model")
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# =========================================================================== structure checks before native code


@pytest.fixture(scope="module")
def tflite_bytes(export_artifact):
    return export_artifact("tflite", "int8").path.read_bytes()


def test_check_tflite_accepts_every_exported_flatbuffer(export_artifact, micro_pair):
    for mode, io in (("int8", "int8"), ("int8", "float"), ("dynamic", "float"), ("float16", "float"),
                     ("float32", "float")):
        path = export_artifact("tflite", mode, io).path
        check_tflite(path.read_bytes(), str(path))
    check_tflite(carray.read_micro(micro_pair.path).model_bytes, "micro")


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
    data[mid:mid + 4096] = np.full(1024, np.nan, np.float32).tobytes()
    path = tmp_path / "nan.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not answer a blank and a white test image"):
        Predictor.load(path)
    p = Predictor.load(path, self_test=False)  # asked for: it loads, and answers NaN
    assert not np.isfinite(p.predict_proba(np.full((1, 784), 255, np.uint8))).all()
    shutil.copy(manifest_path(src), manifest_path(path))
    with pytest.raises(ArtifactChangedError):  # with its manifest, the sha256 catches it first
        Predictor.load(path)


# =========================================================================== the CLI's stderr


def test_filtered_stderr_drops_only_known_native_noise():
    code = r"""
import os, sys
from edgemnist._stderr import filtered_stderr
with filtered_stderr():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8\n")
    os.write(2, b"a real native warning\n")
    print("error: from python", file=sys.stderr)
os.write(2, b"after\n")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert sorted(proc.stderr.splitlines()) == ["a real native warning", "after", "error: from python"]


def test_one_error_line_after_litert_has_printed(export_artifact, data_dir, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(export_artifact("tflite", "int8").path.read_bytes()[:5000])
    good = export_artifact("tflite", "float32").path
    proc = subprocess.run([sys.executable, "-m", "edgemnist", "evaluate", str(good), str(bad), "--data-dir",
                           str(data_dir)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "bad.tflite" in proc.stderr and "PASS" in proc.stdout  # the good one was evaluated first


# =========================================================================== what the code never does

FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.|\bcPickle\b|\bdill\b|\bcloudpickle\b": "pickle",
    r"allow_pickle\s*=\s*True": "allow_pickle=True",
    r"safe_mode\s*=\s*False": "safe_mode=False",
    r"enable_unsafe_deserialization": "unsafe Keras deserialization",
    r"(?<![\w.])eval\(": "eval(",
    r"(?<![\w.])exec\(": "exec(",
    r"shell\s*=\s*True|os\.system\(|os\.popen\(": "a shell",
    r"yaml\.load\(|\bmarshal\.|\bshelve\b|torch\.load\(": "an unsafe loader",
}


def test_no_pickle_eval_or_unsafe_loads_anywhere():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")) + sorted((REPO / "benchmarks").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in FORBIDDEN.items():
            for m in re.finditer(pattern, text):
                line = text.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(REPO)}:{line}: {what}")
        for m in re.finditer(r"np\.load\((?![^)]*allow_pickle=False)", text):
            offenders.append(f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: np.load without "
                             f"allow_pickle=False")
        for m in re.finditer(r"load_model\([^)]*\)", text):
            if "keras.saving.load_model" in m.group(0) and "safe_mode=True" not in m.group(0):
                offenders.append(f"{path.relative_to(REPO)}: keras load_model without safe_mode=True")
    assert not offenders, "\n".join(offenders)


def test_artifact_names_never_leave_the_output_folder():
    from edgemnist.export import all_configs

    configs, _ = all_configs()
    for c in configs:
        name = c.artifact_name
        assert Path(name).name == name and ".." not in name and "/" not in name and "\\" not in name
        for companion in c.fmt.load_exporter().companions(Path("out") / name):
            assert Path(companion).name == companion and ".." not in companion
    for f in FORMATS.values():
        assert f.suffix.startswith(".") and "/" not in f.suffix


def test_out_with_dotdot_lands_in_the_folder_it_names(export_artifact, mnist, tmp_path, monkeypatch):
    """--out is the user's choice and may contain '..': the artifact, its manifest and nothing else land in
    the folder it resolves to, under the registry's names. (The real landing code, with an exporter that
    copies the session's float32 flatbuffer, so no conversion runs.)"""
    import edgemnist.export.tflite as tflite_export
    from edgemnist.export import ExportConfig, Source, export_prepared

    good = export_artifact("tflite", "float32").path

    def copy_exporter(model, out_path, config, calibration=None, **_):
        shutil.copy(good, out_path)
        return Path(out_path)

    monkeypatch.setattr(tflite_export, "export_tflite", copy_exporter)
    reference = Predictor.load(good).predict_proba(mnist.test_images)
    source = Source(good, sha256_file(good), None, mnist, reference, 0.98)
    (tmp_path / "a").mkdir()
    before = {p for p in tmp_path.rglob("*")}
    result = export_prepared(source, ExportConfig("tflite", "float32"), tmp_path / "a" / ".." / "b")
    assert result.path.resolve() == (tmp_path / "b" / "model.float32.tflite").resolve()
    new = {p.resolve() for p in tmp_path.rglob("*")} - {p.resolve() for p in before}
    assert new == {(tmp_path / "b").resolve(), (tmp_path / "b" / "model.float32.tflite").resolve(),
                   (tmp_path / "b" / "model.float32.tflite.json").resolve()}


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


def test_nothing_reads_a_manifest_name_to_open_a_file():
    """A grep: the manifest's file names are written (export) and displayed, never joined to a path, except
    the bench's plain-name Keras lookup checked above."""
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""\[["']file["']\]|\.get\(["']file["']\)""", line):
                uses.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert all("bench/keras.py" in u for u in uses), "\n".join(uses)


def test_keras_archive_bombs_are_refused_before_keras_reads_them(tmp_path):
    import zipfile

    from edgemnist.model import MAX_KERAS_UNCOMPRESSED, load_model

    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.weights.h5", b"\0" * (MAX_KERAS_UNCOMPRESSED + 1))
    with pytest.raises(ArtifactError, match="inflating to"):
        load_model(path)


def test_spec_constants_are_what_the_checks_assume():
    assert spec.INPUT_SIZE == 784 and spec.NUM_CLASSES == 10
