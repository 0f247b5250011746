"""``edgemnist data import DIR``: the four files verified by SHA-256 and copied into the cache that later loads
read (no folder or variable needed afterwards); a bad folder is one line and leaves the cache as it was."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgemnist import data
from edgemnist.cli import main
from edgemnist.errors import DataError

GZ = sorted(f"{s.name}.gz" for s in data.FILES.values())


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache for this test, and no EDGEMNIST_DATA_DIR: later loads can only read the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    return tmp_path / "xdg" / "edgemnist"


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_import_then_every_load_reads_the_cache(cache, data_dir, mnist, capsys):
    assert main(["data", "import", str(data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("imported ") and str(cache) in out[0] and "SHA-256 verified" in out[0]
    assert "no --data-dir or EDGEMNIST_DATA_DIR needed" in out[1]
    assert sorted(_tree(cache)) == GZ  # exactly the four files, no temporaries left
    assert _tree(cache) == {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() for n in GZ}
    images, labels = data.load_test(download=False)  # no folder, no variable, no download
    assert np.array_equal(images, mnist.test_images) and np.array_equal(labels, mnist.test_labels)
    assert data.resolve_data_dir() == (cache, "cache")


def test_import_of_raw_files_and_of_mnist_npz(cache, tmp_path, data_dir, mnist):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in GZ:
        (raw / name[:-3]).write_bytes(gzip.decompress((data_dir / name).read_bytes()))
    cache.mkdir(parents=True)
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"an old copy that would be read first")
    result = data.import_dir(raw)
    assert result.folder == cache and sorted(p.name for p in result.files) == [n[:-3] for n in GZ]
    assert sorted(_tree(cache)) == [n[:-3] for n in GZ]  # the raw copies replaced the shadowing .gz
    assert np.array_equal(data.load_test(download=False)[1], mnist.test_labels)

    npz = tmp_path / "npz"
    npz.mkdir()
    np.savez_compressed(
        npz / "mnist.npz",
        x_train=mnist.train_images,
        y_train=mnist.train_labels,
        x_test=mnist.test_images,
        y_test=mnist.test_labels,
    )
    shutil.rmtree(cache)
    assert [p.name for p in data.import_dir(npz).files] == ["mnist.npz"]
    assert np.array_equal(data.load_test(download=False)[0], mnist.test_images)


def _missing(folder: Path, data_dir: Path) -> None:
    for name in GZ[:3]:
        shutil.copy(data_dir / name, folder / name)


def _wrong(folder: Path, data_dir: Path) -> None:
    """All four names present; one file is well-formed IDX with other pixels."""
    for name in GZ:
        shutil.copy(data_dir / name, folder / name)
    payload = bytearray(gzip.decompress((data_dir / "train-images-idx3-ubyte.gz").read_bytes()))
    payload[-1] ^= 0xFF
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(payload), compresslevel=1))


def _truncated(folder: Path, data_dir: Path) -> None:
    for name in GZ:
        shutil.copy(data_dir / name, folder / name)
    gz = folder / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:5000])


@pytest.mark.parametrize(
    "case,expect",
    [
        ("missing", "missing train-labels-idx1-ubyte[.gz] (or mnist.npz)"),
        ("wrong", "a well-formed IDX file, but not MNIST's train-images-idx3-ubyte"),
        ("truncated", "t10k-images-idx3-ubyte.gz: truncated gzip"),
        ("not_a_folder", "not a folder; expected a folder with the four MNIST files"),
    ],
)
def test_a_bad_folder_is_one_line_and_the_cache_stays_as_it_was(case, expect, cache, tmp_path, data_dir, capsys):
    source = tmp_path / "source"
    if case == "not_a_folder":
        source.write_text("a file, not a folder")
    else:
        source.mkdir()
        {"missing": _missing, "wrong": _wrong, "truncated": _truncated}[case](source, data_dir)
    cache.mkdir(parents=True)
    (cache / "keep.txt").write_text("what the cache held before")
    before = _tree(cache)
    assert main(["data", "import", str(source)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert expect in captured.err, captured.err
    assert _tree(cache) == before  # nothing written, nothing half-written
    with pytest.raises(DataError):
        data.load_test(download=False)


def test_the_offline_error_names_the_import_command(cache, capsys, monkeypatch):
    monkeypatch.setenv(data.ENV_MIRRORS, "http://127.0.0.1:9/")
    with pytest.raises(DataError, match="edgemnist data import DIR"):
        data.load_test(download=False)
