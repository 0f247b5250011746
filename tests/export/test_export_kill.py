"""``edgemnist export`` killed (SIGKILL) mid-write never leaves a half artifact, and the rerun cleans up."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

from sigkill import _assert_consistent, _cli_env, _hidden, _kill_when

from edgemnist.manifest import manifest_path, read_manifest

REPO = Path(__file__).resolve().parents[2]


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
