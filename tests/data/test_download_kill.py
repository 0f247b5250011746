"""An MNIST download killed (SIGKILL) midway leaves nothing in the cache, and the next run completes it (from a
slow server on 127.0.0.1 that the test starts and stops)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mnist_server import serve
from sigkill import _hidden
from toolchains import requires

REPO = Path(__file__).resolve().parents[2]


def test_download_killed_midway_leaves_nothing_in_the_cache(data_dir, tmp_path):
    requires("pooch")
    www = tmp_path / "www"
    www.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / name, www / name)
    cache = tmp_path / "xdg"
    code = "from edgemnist.data import load_test; load_test(progress=False); print('ok')"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    env.pop("EDGEMNIST_DATA_DIR", None)
    with serve(www, delay=0.05) as url:  # ~1.6 MB at ~300 KB/s: several seconds
        env["EDGEMNIST_MIRRORS"] = url + "/"
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        folder = cache / "edgemnist"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until part of the file has arrived
            partial = (
                [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size > 100_000] if folder.is_dir() else []
            )
            if partial:
                break
            time.sleep(0.02)
        assert partial and proc.poll() is None, "the download never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    visible = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
    assert visible == []  # nothing under a real name: only a hidden .download-<pid>-* folder can remain
    assert all(re.match(r"^\.download-\d+-", n) for n in _hidden(folder))
    with serve(www) as url:
        env["EDGEMNIST_MIRRORS"] = url + "/"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
