"""What train, export and info print, on their real output: next steps, a legend for agreement and max|dp|,
percentages with two decimals (ratios only in JSON), and lines that fit 100 columns."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from edgemnist.cli import main
from edgemnist.data import ENV_DATA_DIR

COLUMNS = 100


def _fits(text: str) -> None:
    too_long = [line for line in text.splitlines() if len(line) > COLUMNS]
    assert not too_long, too_long


@pytest.fixture
def here(tmp_path, monkeypatch, data_dir):
    """Run in an empty folder with the data in the environment, as a user after ``cd project`` does."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_DATA_DIR, str(data_dir))
    return tmp_path


def test_train_says_what_to_run_next(here, capsys):
    assert main(["train", "--epochs", "1", "--batch-size", "512", "--tolerance", "5"]) == 0
    out = capsys.readouterr().out
    _fits(out)
    lines = out.splitlines()
    assert lines[-4].startswith("PASS: gate ") and lines[-3] == "next:"
    assert lines[-2] == "  edgemnist export --format all  # every format, each verified"
    assert lines[-1] == "  edgemnist export --format tflite  # one format (or onnx, micro, c, web)"
    assert re.search(r"test accuracy \d+\.\d\d%", out)


def test_export_explains_its_columns_and_says_what_to_run_next(here, model_path, capsys):
    (here / "export").mkdir()
    for p in (model_path, model_path.with_name(model_path.name + ".json")):
        if p.is_file():
            shutil.copy(p, here / "export" / p.name)
    assert main(["export", "--format", "all", "--quantize", "float32"]) == 0
    out = capsys.readouterr().out
    _fits(out)
    assert out.count("agreement: % of test images given Keras' digit; max|dp|: largest |p - p_Keras|") == 1
    assert "\nnext:\n  edgemnist predict export/model.float32.tflite IMAGE.png  # " in out
    assert "\n  edgemnist evaluate export/model.float32.tflite  # " in out
    assert "\n  edgemnist bench export/model.float32.tflite export/model.float32.onnx\n" in out
    rows = [line for line in out.splitlines() if line.startswith("export/model.float32.")]
    assert len(rows) == 2 and all(re.search(r" \d+\.\d\d% +\d+\.\d\d% ", row) for row in rows), rows

    assert main(["export", "--format", "micro"]) == 0  # its summary line is the longest: wrapped
    out = capsys.readouterr().out
    _fits(out)
    assert "TFLite Micro: arena" in out and "  edgemnist predict export/model_data.cc IMAGE.png" in out

    assert main(["info", "export/model.float32.tflite"]) == 0
    info = capsys.readouterr().out
    _fits(info.split("  preprocessing")[0])  # the manifest's own JSON fields are printed whole
    manifest = json.loads((here / "export" / "model.float32.tflite.json").read_text())
    ver = manifest["verification"]
    assert 0 < ver["agreement"] <= 1  # ratios in JSON ...
    assert f"agreement {ver['agreement']:.2%}" in info and f"accuracy {ver['accuracy']:.2%}" in info  # % on screen
    assert f"max|dp| {ver['max_abs_diff']:.2g}" in info and f"gate {ver['threshold']:.2%}" in info
