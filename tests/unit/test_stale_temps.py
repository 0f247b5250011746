"""remove_stale_temps removes only the temporaries of dead writers, of the names asked for, old enough."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from edgemnist.fileio import remove_stale_temps


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
