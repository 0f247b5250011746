"""MNIST, loaded reliably: local IDX/npz files verified by SHA-256, or a hash-checked download.

Sources, in order: an explicit ``data_dir``; ``$EDGEMNIST_DATA_DIR``; the user cache
(``$XDG_CACHE_HOME/edgemnist`` or ``~/.cache/edgemnist``, filled by ``import_dir`` or a download); else a
download into the cache from maintained mirrors, trying the next one when a mirror fails or serves a bad file.

Modules: ``idx`` (the IDX format), ``mnist`` (the MNIST file set and its checksums, read from a folder),
``cache`` (where data is read from; importing a folder into the cache), ``fetch`` (the download from mirrors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgemnist.data.cache import ENV_DATA_DIR, Imported, cache_dir, import_dir, offline_hint, resolve_data_dir
from edgemnist.data.fetch import ENV_MIRRORS, download, mirrors
from edgemnist.data.idx import MAX_COMPRESSED_BYTES, IdxFile, idx_header, parse_idx, read_idx_file
from edgemnist.data.mnist import DEFAULT_MIRRORS, FILES, NPZ_KEYS, NPZ_NAME, complete, read_dir, read_npz
from edgemnist.errors import DataError


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays, uint8. Unpacks as ``train_images, train_labels, test_images, test_labels``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __iter__(self):
        return iter((self.train_images, self.train_labels, self.test_images, self.test_labels))


def _load(keys, data_dir, download_missing: bool, progress: bool) -> dict[str, np.ndarray]:
    directory, origin = resolve_data_dir(data_dir)
    if origin == "cache" and not complete(directory):
        if not download_missing:
            raise DataError(f"MNIST is not in {directory} and downloading is off; {offline_hint()}")
        download(directory, keys=keys, progress=progress)
    return read_dir(directory, keys)


def load_mnist(data_dir=None, *, download: bool = True, progress: bool = True) -> Mnist:
    """Load the four MNIST arrays (uint8), verified. See the module doc for where they come from."""
    arrays = _load(tuple(FILES), data_dir, download, progress)
    return Mnist(**arrays, source=str(resolve_data_dir(data_dir)[0]))


def load_test(data_dir=None, *, download: bool = True, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Only the 10,000 test images and labels (what evaluation needs), verified."""
    arrays = _load(("test_images", "test_labels"), data_dir, download, progress)
    return arrays["test_images"], arrays["test_labels"]


__all__ = [
    "DEFAULT_MIRRORS",
    "ENV_DATA_DIR",
    "ENV_MIRRORS",
    "FILES",
    "MAX_COMPRESSED_BYTES",
    "NPZ_KEYS",
    "NPZ_NAME",
    "IdxFile",
    "Imported",
    "Mnist",
    "cache_dir",
    "download",
    "idx_header",
    "import_dir",
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
