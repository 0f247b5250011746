"""``edgemnist train`` killed (SIGKILL) around the save never leaves a half model.keras."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from sigkill import _assert_consistent, _cli_env, _hidden, _kill_when

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_during_training_never_leaves_a_half_model(data_dir, tmp_path, record_property):
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "edgemnist",
        "train",
        "--epochs",
        "1",
        "--batch-size",
        "1024",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        "--tolerance",
        "100",
    ]
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
