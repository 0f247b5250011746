"""One ``error:`` line on stderr, even after LiteRT has printed to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_one_error_line_after_litert_has_printed(export_artifact, data_dir, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(export_artifact("tflite", "int8").path.read_bytes()[:5000])
    good = export_artifact("tflite", "float32").path
    proc = subprocess.run(
        [sys.executable, "-m", "edgemnist", "evaluate", str(good), str(bad), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "bad.tflite" in proc.stderr and "PASS" in proc.stdout  # the good one was evaluated first
