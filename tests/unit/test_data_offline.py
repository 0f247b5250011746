"""Offline without a data folder: the download failure is one line that says how to work offline (no network:
the mirrors are a closed port on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from toolchains import requires

from edgemnist import data
from edgemnist.errors import DataError, DownloadError


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_download_failure_says_how_to_work_offline(tmp_path, monkeypatch):
    """No network, no data folder: one error in library terms, naming data_dir, the variable and the files."""
    requires("pooch")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_MIRRORS, f"http://127.0.0.1:{_closed_port()}/")
    with pytest.raises(DownloadError) as info:
        data.load_test(progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "connection refused" in msg
    assert "to work offline" in msg and "data_dir" in msg and data.ENV_DATA_DIR in msg and "--data-dir" not in msg
    assert "t10k-labels-idx1-ubyte.gz" in msg and "mnist.npz" in msg and len(msg) < 600
    with pytest.raises(DataError, match="downloading is off; to work offline") as info:
        data.load_test(download=False)
    assert "--data-dir" not in str(info.value)


def test_cli_offline_is_one_line_naming_the_flag(tmp_path):
    """The command adds its flag: exactly one stderr line, no pooch progress or warnings, exit 2."""
    requires("pooch")
    import os
    import subprocess
    import sys

    model = tmp_path / "m.tflite"
    model.write_bytes(b"never read: the data is loaded first")
    env = {k: v for k, v in os.environ.items() if k != data.ENV_DATA_DIR}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        EDGEMNIST_MIRRORS=f"http://127.0.0.1:{_closed_port()}/",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "edgemnist", "evaluate", str(model)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: could not download"), proc.stderr
    assert "--data-dir DIR" in proc.stderr and data.ENV_DATA_DIR in proc.stderr
    assert "`edgemnist data import DIR`" in proc.stderr  # once, and every later shell needs nothing
