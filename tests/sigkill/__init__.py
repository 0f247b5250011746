"""Helpers for the tests that SIGKILL a writer mid-write (``edgemnist export``, ``edgemnist train``, the MNIST
download): kill a process while one of its temporaries exists, then check that no half-written file sits under a
target name. Imported as ``sigkill`` (tests/ is on sys.path, as for ``fuzz``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from edgemnist.errors import ArtifactChangedError
from edgemnist.fileio import sha256_file, temp_pattern
from edgemnist.manifest import read_manifest
from edgemnist.predictor import Predictor


def _cli_env(data_dir, cache) -> dict:
    env = dict(os.environ)
    env.update(EDGEMNIST_DATA_DIR=str(data_dir), XDG_CACHE_HOME=str(cache), EDGEMNIST_MIRRORS="http://127.0.0.1:9/")
    return env


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


def _write_window(proc: subprocess.Popen, folder: Path, targets, timeout: float = 300) -> float:
    """Let ``proc`` run to the end and return how long *its* temporaries for ``targets`` existed in ``folder``
    (from the first one's creation to the landing that removed the last), in seconds: where a kill must land."""
    deadline = time.monotonic() + timeout

    def its_own(name: str) -> bool:
        return any((m := temp_pattern(t).match(name)) and int(m.group(1)) == proc.pid for t in targets)

    first = last = None
    while time.monotonic() < deadline:
        exited = proc.poll() is not None
        mine = folder.is_dir() and any(its_own(n) for n in _hidden(folder))
        now = time.monotonic()
        if mine:
            first = now if first is None else first
            last = now
        if exited:
            break
        time.sleep(0.005)
    else:
        proc.kill()
        proc.wait()
        raise AssertionError("the export did not finish")
    if first is None:
        raise AssertionError("the temporary never appeared")
    return max(last - first, 0.01)


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
