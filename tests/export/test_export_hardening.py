"""Export landing: a rejected micro export leaves no header behind, artifact names never leave the output
folder, and an --out with '..' lands in the folder it names."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from edgemnist.fileio import sha256_file
from edgemnist.formats import FORMATS
from edgemnist.manifest import manifest_path
from edgemnist.predictor import Predictor


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


def test_artifact_names_never_leave_the_output_folder():
    from edgemnist.export import all_configs

    configs, _ = all_configs()
    for c in configs:
        name = c.artifact_name
        # A plain file name, or one subfolder deep for a format that is a folder (web/edgemnist_model.wasm): never
        # absolute, never "..", never a backslash.
        parts = Path(name).parts
        assert 1 <= len(parts) <= 2 and not Path(name).is_absolute() and ".." not in parts and "\\" not in name
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
    assert new == {
        (tmp_path / "b").resolve(),
        (tmp_path / "b" / "model.float32.tflite").resolve(),
        (tmp_path / "b" / "model.float32.tflite.json").resolve(),
    }
