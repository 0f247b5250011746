"""What a new user hits: many files to predict, a closed pipe, quiet runtimes, outputs that are not
created behind the user's back, one table, one size vocabulary, a sane ONNX producer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgemnist.cli import CLOSED_PIPE_STATUS, main

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def int8(export_artifact):
    return export_artifact("tflite", "int8", "int8")


@pytest.fixture(scope="module")
def onnx(export_artifact):
    return export_artifact("onnx", "int8")


@pytest.fixture(scope="module")
def micro(export_artifact):
    return export_artifact("micro")


@pytest.fixture(scope="module")
def files(mnist, tmp_path_factory):
    """good.png (a 7), bad.png (text), good2.png (a 2), missing.png (absent)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("batch")
    Image.fromarray(255 - mnist.test_images[0]).save(folder / "good.png")  # label 7, dark on light
    (folder / "bad.png").write_text("this is text, not an image\n")
    Image.fromarray(mnist.test_images[1]).save(folder / "good2.png")  # label 2, light on dark
    return folder, [int(mnist.test_labels[0]), int(mnist.test_labels[1])]


def test_predict_many_files_reports_each_and_exits_2(int8, files, capsys):
    folder, (a, b) = files
    args = [str(folder / n) for n in ("good.png", "bad.png", "good2.png", "missing.png")]
    assert main(["predict", str(int8.path), *args]) == 2
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 2 and out[0].split()[:2] == [args[0], str(a)] and out[1].split()[:2] == [args[2], str(b)]
    err = captured.err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"error: {args[1]}: not an image")
    assert err[1] == f"error: {args[3]}: no such image file"
    # --json lists both, in order; no stderr lines.
    assert main(["predict", str(int8.path), *args[:3], "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [d.get("label") for d in doc] == [a, None, b] and "not an image" in doc[1]["error"]
    assert captured.err == ""
    # All good: exit 0; all bad: exit 2 without loading the model.
    assert main(["predict", str(int8.path), args[0], args[2]]) == 0
    assert main(["predict", "/nonexistent/model.tflite", args[1]]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("command", ["info", "evaluate", "help"])
def test_closed_pipe_exits_quietly(command, int8, data_dir):
    """``edgemnist info M | head -1`` and friends, with a real pipe, many times: never a message, and the
    status is 0 (all written before the reader left) or 141 (SIGPIPE's, as ls and git get)."""
    argv = {
        "info": ["info", str(int8.path)],
        "help": ["--help"],
        "evaluate": ["evaluate", str(int8.path), "--data-dir", str(data_dir)],
    }[command]
    statuses = set()
    for i in range(12 if command != "evaluate" else 4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgemnist", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            cwd=REPO,
        )
        if i % 2:
            proc.stdout.close()  # the reader is gone before anything is written: EPIPE for sure
        else:
            proc.stdout.readline()  # as head -1 does
            proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=120)
        assert err == b"", err
        statuses.add(proc.returncode)
    assert statuses <= {0, CLOSED_PIPE_STATUS}
    if command != "help":  # argparse swallows its own write errors
        assert CLOSED_PIPE_STATUS in statuses


def test_console_script_closed_pipe_with_a_shell(int8):
    script = f'{sys.executable} -m edgemnist info {int8.path} | head -1; echo "status=${{PIPESTATUS[0]}}"'
    for _ in range(5):
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV, timeout=120)
        assert proc.stderr == "" and proc.stdout.splitlines()[0] == str(int8.path)
        assert proc.stdout.splitlines()[1] in ("status=0", f"status={CLOSED_PIPE_STATUS}")


def test_library_users_never_see_litert_delegate_line(int8):
    code = (
        "import numpy as np\nfrom edgemnist.predictor import Predictor\n"
        f"p = Predictor.load({str(int8.path)!r})\np.predict(np.zeros((28, 28), np.uint8))\n"
        "import os; os.write(2, b'own line\\n')\n"
        f"Predictor.load({str(int8.path)!r}).predict(np.zeros((2, 784), np.uint8))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "own line\n"  # the process's own writes to fd 2 still arrive


def test_bench_output_into_a_missing_folder_is_an_error(int8, tmp_path, capsys):
    target = tmp_path / "nonexistent" / "dir" / "x.png"
    assert main(["bench", str(int8.path), "--plot", str(target), "--no-keras"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err and "--plot" in err
    assert not (tmp_path / "nonexistent").exists()


def test_failed_train_and_export_leave_no_empty_out_folder(tmp_path, model_path, capsys):
    out = tmp_path / "new" / "out"
    assert main(["train", "--data-dir", str(tmp_path / "no-data"), "--out", str(out)]) == 2
    assert not (tmp_path / "new").exists()
    assert main(["export", "--model", str(model_path), "--data-dir", str(tmp_path / "no-data"), "--out", str(out)]) == 2
    assert not (tmp_path / "new").exists()
    assert capsys.readouterr().err.count("\n") == 2
    existing = tmp_path / "existing"
    existing.mkdir()
    assert main(["train", "--data-dir", str(tmp_path / "no-data"), "--out", str(existing)]) == 2
    assert existing.is_dir()  # a folder the user had stays


def test_export_with_several_artifacts_prints_one_table(model_path, data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "export",
                "--format",
                "all",
                "--quantize",
                "float32",
                "--model",
                str(model_path),
                "--data-dir",
                str(data_dir),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.count("model size") == 1  # the header, once
    table = printed.split("\nnext:\n")[0]  # the next-step commands after the table name artifacts again
    for name in ("model.float32.tflite", "model.float32.onnx"):
        assert sum(name in line for line in table.splitlines()) == 1, printed
        size = (out / name).stat().st_size
        assert f"{size / 1000:,.1f} kB" in printed


def test_sizes_are_model_sizes_in_one_unit(micro, onnx, capsys):
    from edgemnist.units import size_text

    model = micro.manifest["micro"]["flash_bytes"]
    assert main(["info", str(micro.path)]) == 0
    out = capsys.readouterr().out
    assert f"model size {size_text(model)}" in out and "of C source" in out and " MB" not in out
    assert main(["info", str(onnx.path)]) == 0
    out = capsys.readouterr().out
    assert "producer=onnx.quantize" in out and "9223372036854775807" not in out


def test_predict_reads_grey_paper_without_invert(int8, mnist, tmp_path, capsys):
    """Photo-like digits through the command: dark ink 60 on grey paper 125, no flag needed."""
    from PIL import Image

    images, labels = mnist.test_images, mnist.test_labels
    paths = []
    for i in range(10):
        big = np.asarray(Image.fromarray(images[i]).resize((112, 112), Image.Resampling.BILINEAR)) / 255.0
        page = np.full((150, 140), 125.0)
        page[20:132, 14:126] = 125.0 * (1 - big) + 60.0 * big
        paths.append(tmp_path / f"grey{i}.png")
        Image.fromarray(np.rint(page).astype(np.uint8)).save(paths[-1])
    assert main(["predict", str(int8.path), *map(str, paths), "--json"]) == 0
    got = [d["label"] for d in json.loads(capsys.readouterr().out)]
    assert np.mean(np.array(got) == labels[:10]) >= 0.9
