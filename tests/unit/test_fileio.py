"""Atomic writes, temporaries and hashing."""

from __future__ import annotations

import os
import stat

import pytest

from edgemnist import fileio


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    fileio.atomic_write_json(target, {"x": 1})
    fileio.atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_temporaries_are_hidden_match_the_pattern_and_obey_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        tmp = fileio.temp_sibling(tmp_path / "model.int8.tflite")
    finally:
        os.umask(old)
    assert fileio.temp_pattern("model.int8.tflite").match(tmp.name)
    assert tmp.name.startswith(".") and tmp.suffix == ".tflite"
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o640  # 0o666 & ~0o027: the umask applies, nothing flips it


def test_umask_is_never_changed_by_importing_or_writing(tmp_path):
    import importlib

    old = os.umask(0o022)
    try:
        importlib.reload(fileio)
        fileio.atomic_write_text(tmp_path / "x", "y")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(old)


def test_remove_stale_temps_keeps_our_own_and_foreign_names(tmp_path):
    mine = fileio.temp_sibling(tmp_path / "model.onnx")  # this (live) process wrote it: kept
    foreign = tmp_path / ".other.bin.1.abcdefgh.tmp.bin"
    foreign.write_bytes(b"")
    assert fileio.remove_stale_temps(tmp_path, ["model.onnx"]) == []
    assert mine.exists() and foreign.exists()


def test_sha256():
    assert fileio.sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
