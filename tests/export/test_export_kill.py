"""``edgemnist export`` killed (SIGKILL) mid-write never leaves a half artifact, and the rerun cleans up."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

from sigkill import _assert_consistent, _cli_env, _hidden, _kill_when, _write_window

from edgemnist.manifest import manifest_path, read_manifest

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_during_export_never_leaves_a_half_artifact(
    export_artifact, model_path, data_dir, tmp_path, record_property
):
    out = tmp_path / "out"
    out.mkdir()
    # An older, different artifact under the same name, so a torn landing would be visible.
    older = export_artifact("tflite", "int8", "float").path
    shutil.copy(older, out / "model.int8.tflite")
    shutil.copy(manifest_path(older), out / "model.int8.tflite.json")
    assert _assert_consistent(out, "model.int8.tflite") == "consistent"
    argv = [
        sys.executable,
        "-m",
        "edgemnist",
        "export",
        "--format",
        "tflite",
        "--model",
        str(model_path),
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
    ]
    env = _cli_env(data_dir, tmp_path / "cache")
    rng = random.Random(20240607)
    targets = ["model.int8.tflite", "model.int8.tflite.json"]
    # How long this export's temporaries exist on this machine (the pipeline got faster: a fixed window of
    # seconds no longer fits), then seeded random moments in each half of that window: conversion/verification,
    # then verification/landing (load shifts them; any moment must be safe). Up to two more tries if noise made
    # both land outside the window; each costs a TensorFlow import.
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    window = _write_window(proc, out, targets)
    assert _assert_consistent(out, "model.int8.tflite") == "consistent"
    shutil.copy(older, out / "model.int8.tflite")  # the older, different artifact again
    shutil.copy(manifest_path(older), out / "model.int8.tflite.json")
    seen = []
    for lo, hi in ((0.0, 0.5), (0.5, 0.95), (0.1, 0.6), (0.1, 0.6)):
        if len(seen) >= 2 and any(hidden for *_, hidden in seen):
            break
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        what = _kill_when(proc, out, targets, rng.uniform(lo, hi) * window)
        seen.append((what, _assert_consistent(out, "model.int8.tflite"), _hidden(out)))
    record_property("kills", json.dumps(seen))
    assert any(hidden for *_, hidden in seen), f"no kill landed mid-write (window {window:.2f} s): {seen}"
    # The rerun succeeds, says nothing on stderr (converter and LiteRT noise filtered), and cleans up after
    # the killed runs: no hidden temporaries remain.
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert _assert_consistent(out, "model.int8.tflite") == "consistent"
    assert _hidden(out) == [], seen
    assert read_manifest(out / "model.int8.tflite")["io"] == "int8"  # the new export, not the older one
