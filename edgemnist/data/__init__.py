"""MNIST, loaded reliably: local IDX/npz files verified by SHA-256, or a hash-checked download; or another
dataset of 28x28 greyscale images in the same four IDX files, named after its folder (``edgemnist.data.mnist``).

Sources, in order: an explicit ``data_dir``; ``$EDGEMNIST_DATA_DIR``; the user cache
(``$XDG_CACHE_HOME/edgemnist`` or ``~/.cache/edgemnist``, filled by ``import_dir`` or a download); else a
download into the cache from maintained mirrors, trying the next one when a mirror fails or serves a bad file.

Modules: ``idx`` (the IDX format), ``mnist`` (the MNIST file set and its checksums, read from a folder),
``cache`` (where data is read from; importing a folder into the cache), ``fetch`` (the download from mirrors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.data.cache import ENV_DATA_DIR, Imported, cache_dir, import_dir, offline_hint, resolve_data_dir
from edgemnist.data.fetch import ENV_MIRRORS, download, mirrors
from edgemnist.data.idx import MAX_COMPRESSED_BYTES, IdxFile, idx_header, parse_idx, read_idx_file
from edgemnist.data.mnist import (
    DEFAULT_MIRRORS,
    FILES,
    NPZ_KEYS,
    NPZ_NAME,
    complete,
    read_dir,
    read_npz,
    read_set,
)
from edgemnist.errors import DataError

MNIST_NAME = "MNIST"
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def dataset_name(directory: Path) -> str:
    """Another dataset's name: its folder's, printable (``fashion-mnist``)."""
    name = _NAME.sub("-", directory.resolve().name).strip("-.")[:64]
    return name if name and name != MNIST_NAME else "idx"


def record_of(name: str, is_mnist: bool, num_classes: int, digests: dict[str, str]) -> dict[str, Any]:
    """What a manifest says about the data a model was trained or checked on."""
    return {"name": name, "mnist": is_mnist, "classes": num_classes, "sha256": dict(digests)}


def _classes(labels: list[np.ndarray], origin: str) -> int:
    k = max(int(a.max()) for a in labels) + 1
    if k < 2:
        raise DataError(f"{origin}: every label is 0; a classifier needs at least 2 classes (labels 0 to K-1)")
    return k


@dataclass(frozen=True)
class Dataset:
    """The four arrays, uint8: MNIST's or another dataset's (``is_mnist``). Unpacks as ``train_images,
    train_labels, test_images, test_labels``. ``num_classes`` is the largest label + 1 (at most 256)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    name: str = MNIST_NAME
    is_mnist: bool = True
    sha256: dict = field(default_factory=dict, compare=False)
    num_classes: int = 10

    def __iter__(self):
        return iter((self.train_images, self.train_labels, self.test_images, self.test_labels))

    def record(self) -> dict[str, Any]:
        return record_of(self.name, self.is_mnist, self.num_classes, self.sha256)


#: The name this class had when only MNIST was read.
Mnist = Dataset


class TestData(tuple):
    """``(images, labels)`` of a test set (unpacks as a pair), with ``dataset``: the record of the set."""

    dataset: dict[str, Any]

    def __new__(cls, images: np.ndarray, labels: np.ndarray, dataset: dict[str, Any]) -> TestData:
        self = super().__new__(cls, (images, labels))
        self.dataset = dataset
        return self


def _load(keys, data_dir, download_missing: bool, progress: bool):
    directory, origin = resolve_data_dir(data_dir)
    if origin == "cache" and not complete(directory):
        if not download_missing:
            raise DataError(f"MNIST is not in {directory} and downloading is off; {offline_hint()}")
        download(directory, keys=keys, progress=progress)
    arrays, digests, is_mnist = read_set(directory, keys)
    name = MNIST_NAME if is_mnist else dataset_name(directory)
    k = _classes([arrays[key] for key in keys if key.endswith("_labels")], str(directory))
    return arrays, record_of(name, is_mnist, k, digests), directory


def load_mnist(data_dir=None, *, download: bool = True, progress: bool = True) -> Dataset:
    """Load the four arrays (uint8), verified: MNIST, or another dataset of 28x28 images in MNIST's file names
    (``edgemnist.data.mnist``). See the module doc for where they come from."""
    arrays, record, directory = _load(tuple(FILES), data_dir, download, progress)
    return Dataset(
        **arrays,
        source=str(directory),
        name=record["name"],
        is_mnist=record["mnist"],
        sha256=record["sha256"],
        num_classes=record["classes"],
    )


#: What ``load_mnist`` reads, by its general name.
load_dataset = load_mnist


def load_test(data_dir=None, *, download: bool = True, progress: bool = True) -> TestData:
    """Only the test images and labels (what evaluation needs), verified; ``.dataset`` says whose they are."""
    arrays, record, _ = _load(("test_images", "test_labels"), data_dir, download, progress)
    return TestData(arrays["test_images"], arrays["test_labels"], record)


def check_same_dataset(trained_on: dict | None, data: dict, what: str) -> None:
    """DataError when ``data`` (a dataset record) is not the set a model was trained on (``trained_on``, from
    its manifest; None: not recorded), compared file by file where both record a hash."""
    if not isinstance(trained_on, dict) or not isinstance(trained_on.get("sha256"), dict):
        return
    theirs, ours = trained_on["sha256"], data.get("sha256") or {}
    differ = [k for k in ours if k in theirs and theirs[k] != ours[k]]
    if differ:
        from edgemnist.safetext import safe

        raise DataError(
            f"{what} was trained on {safe(str(trained_on.get('name')))}, but the data given is "
            f"{safe(str(data.get('name')))} ({FILES[differ[0]].name} differs); pass the folder of the dataset it "
            f"was trained on"
        )


__all__ = [
    "DEFAULT_MIRRORS",
    "ENV_DATA_DIR",
    "ENV_MIRRORS",
    "FILES",
    "MAX_COMPRESSED_BYTES",
    "NPZ_KEYS",
    "NPZ_NAME",
    "MNIST_NAME",
    "Dataset",
    "IdxFile",
    "Imported",
    "Mnist",
    "TestData",
    "check_same_dataset",
    "cache_dir",
    "download",
    "idx_header",
    "import_dir",
    "load_dataset",
    "load_mnist",
    "load_test",
    "mirrors",
    "offline_hint",
    "parse_idx",
    "read_dir",
    "read_idx_file",
    "read_npz",
    "resolve_data_dir",
]
