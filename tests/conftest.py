"""Shared fixtures: real MNIST, one trained model per session, exported artifacts cached per session.

Tiers: ``tests/unit/`` is the fast tier (no TensorFlow, no trained model, seconds). Every test outside it is
marked ``slow`` here, so ``pytest -m "not slow"`` runs exactly the fast tier and ``pytest`` runs everything.
The session's exported artifacts are shared by many tests: treat them as read-only (copy one to ``tmp_path``
before changing it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"
UNIT = Path(__file__).resolve().parent / "unit"
#: Test images the predictor tests compare with Keras (``reference``).
N_REFERENCE = 300


def pytest_collection_modifyitems(config, items) -> None:
    slow = pytest.mark.slow
    for item in items:
        if UNIT not in Path(str(item.fspath)).resolve().parents:
            item.add_marker(slow)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("EDGEMNIST_DATA_DIR") or DEFAULT_DATA)
    if not (path / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.fail(f"MNIST not found in {path}; set EDGEMNIST_DATA_DIR to the folder with the IDX files")
    return path


@pytest.fixture(scope="session")
def mnist(data_dir):
    from edgemnist.data import load_mnist

    return load_mnist(data_dir)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """One folder per session holding model.keras and every exported artifact."""
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="session")
def trained(workdir, mnist):
    """The default training run (5 epochs, batch 128, seed 0), once per session: (model_path, result)."""
    from edgemnist.model import TrainConfig, train_and_save

    trained = train_and_save(TrainConfig(), mnist, workdir)
    assert trained.passed, f"the default training run failed its gate: {trained.result.test_accuracy:.2%}"
    return trained.path, trained.result


@pytest.fixture(scope="session")
def model_path(trained) -> Path:
    return trained[0]


@pytest.fixture(scope="session")
def export_artifact(model_path, mnist, workdir):
    """Factory: export_artifact("tflite", "int8", io=None, weight_bits=8, packed=False) -> ExportResult, exported
    once per session. Low-bit exports (``weight_bits`` 4 or 2) share one prepared Source, so each width is
    quantized once and a packed file is checked against the int8 file the session already exported.

    The artifacts are shared by the whole session and read-only to tests (copy one to ``tmp_path`` to change it):
    at the end of the session each must still have the sha256 its manifest records."""
    cache = {}
    sources = []

    def get(fmt: str, mode: str | None = None, io: str | None = None, *, weight_bits: int = 8, packed: bool = False):
        from edgemnist.export import ExportConfig, export_model, export_prepared, prepare

        # resolved: ("tflite") and ("tflite", "int8") share
        key = ExportConfig(format=fmt, mode=mode, io=io, weight_bits=weight_bits, packed=packed)
        if key not in cache:
            if weight_bits == 8:
                cache[key] = export_model(model_path, key, workdir, data=mnist)
            else:
                if not sources:
                    sources.append(prepare(model_path, mnist))
                cache[key] = export_prepared(sources[0], key, workdir)
        return cache[key]

    yield get
    from edgemnist.fileio import sha256_file

    changed = [str(r.path) for r in cache.values() if sha256_file(r.path) != r.manifest["artifact"]["sha256"]]
    assert not changed, f"a test changed the session's shared artifacts (copy them first): {changed}"


@pytest.fixture(scope="session")
def artifact_path(export_artifact, model_path):
    """Factory: artifact_path(fmt, mode, io) -> the session's artifact (the .keras itself for "keras")."""

    def get(fmt, mode, io):
        if fmt == "keras":
            return model_path
        return export_artifact(fmt, mode, io).path

    return get


@pytest.fixture(scope="session")
def reference(trained, mnist):
    """Keras probabilities for the first N_REFERENCE test images."""
    import numpy as np

    from edgemnist.model import preprocess

    return trained[1].model.predict(preprocess(mnist.test_images[:N_REFERENCE]), verbose=0).astype(np.float32)


@pytest.fixture(scope="session")
def int8_path(artifact_path):
    return artifact_path("tflite", "int8", "int8")


@pytest.fixture(scope="session")
def micro_pair(export_artifact):
    """The session's TFLite Micro export (model_data.cc, its model_data.h and manifest)."""
    return export_artifact("micro")


def pytest_runtest_setup(item) -> None:
    """``@requires(...)`` / ``pytestmark = requires(...)`` (tests/toolchains.py): checked before each test."""
    from toolchains import check

    for mark in item.iter_markers("requires"):
        check(*mark.args)


@pytest.fixture
def manifest_reads(monkeypatch):
    """Counts ``edgemnist.manifest.read_manifest`` calls by artifact file name while the test runs (every reader
    in the package imports it from there at call time, so this sees them all)."""
    import collections

    import edgemnist.manifest as manifest_module

    reads: collections.Counter = collections.Counter()
    real = manifest_module.read_manifest

    def counted(artifact, **kwargs):
        reads[Path(artifact).name] += 1
        return real(artifact, **kwargs)

    monkeypatch.setattr(manifest_module, "read_manifest", counted)
    return reads
