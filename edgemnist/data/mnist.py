"""The MNIST file set: the four IDX files' names, shapes and checksums, Keras' ``mnist.npz`` layout, where the
files are published, and reading them (or another dataset's IDX files of the same names) from a folder.

Every file is identified by the SHA-256 of its *decompressed* IDX payload, which holds for the published ``.gz``
files and for re-compressed copies alike. ``mnist.npz`` is checked the same way, by rebuilding the IDX bytes
from its arrays.

A folder whose four files all have MNIST's SHA-256 is MNIST. A folder whose files are all well-formed IDX files
of *other* hashes is another dataset (Fashion-MNIST ships under the same names): it is read when its images are
28x28 greyscale and each split has as many labels as images, named after its folder, its class count taken from
its labels. A folder that mixes MNIST's files with others is an altered MNIST copy and refused.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np

from edgemnist.data.idx import IdxFile, idx_header, parse_any, parse_idx, read_bytes, read_payload
from edgemnist.errors import DataError

FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte",
        (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte",
        (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte",
        (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte",
        (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
NPZ_NAME = "mnist.npz"
NPZ_KEYS = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}

#: Maintained mirrors of the published ``.gz`` files, tried in order.
DEFAULT_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


def read_npz(path: Path, raw: bytes | None = None) -> dict[str, np.ndarray]:
    """Read Keras' mnist.npz (no pickle) and verify each array as if it were its IDX file (``raw``: its bytes,
    already read)."""
    source = io.BytesIO(raw) if raw is not None else path
    try:
        with np.load(source, allow_pickle=False) as npz:
            arrays = {key: npz[npz_key] for key, npz_key in NPZ_KEYS.items()}
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc}; expected x_train, y_train, x_test, y_test") from None
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise DataError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    out = {}
    for key, arr in arrays.items():
        spec = FILES[key]
        origin = f"{path}[{NPZ_KEYS[key]}]"
        if arr.dtype != np.uint8 or arr.shape != spec.shape:
            raise DataError(f"{origin}: {arr.dtype} {arr.shape}, expected uint8 {spec.shape}")
        out[key] = parse_idx(idx_header(spec) + np.ascontiguousarray(arr).tobytes(), spec, origin=origin)
    return out


def read_npz_bytes(path: Path) -> bytes:
    """The stored bytes of an ``mnist.npz`` (bounded like an IDX file)."""
    return read_bytes(path, NPZ_NAME)


def find(directory: Path, spec: IdxFile) -> Path | None:
    """``<name>.gz`` or ``<name>`` in ``directory``, the first that is a file."""
    for candidate in (directory / f"{spec.name}.gz", directory / spec.name):
        if candidate.is_file():
            return candidate
    return None


def complete(directory: Path) -> bool:
    return (directory / NPZ_NAME).is_file() or all(find(directory, s) for s in FILES.values())


def missing_text(directory: Path, keys=tuple(FILES)) -> str:
    """``<dir>: missing <files> (or mnist.npz)`` for the files ``keys`` that ``directory`` lacks."""
    missing = ", ".join(f"{FILES[k].name}[.gz]" for k in keys if find(directory, FILES[k]) is None)
    return f"{directory}: missing {missing} (or {NPZ_NAME})"


#: The image size every dataset must have: the model's input contract.
IMAGE_SIZE = (28, 28)


def read_dir(directory: Path, keys=tuple(FILES)) -> dict[str, np.ndarray]:
    """Read the files ``keys`` from ``directory`` (IDX .gz or raw, else mnist.npz): MNIST's, or another
    dataset's (module doc). ``read_set`` also says which."""
    return read_set(directory, keys)[0]


def read_set(directory: Path, keys=tuple(FILES)) -> tuple[dict[str, np.ndarray], dict[str, str], bool]:
    """``(arrays, sha256 of each file's payload, is MNIST)`` for the files ``keys`` in ``directory``."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory; expected a folder with the four MNIST IDX files")
    paths = {k: find(directory, FILES[k]) for k in keys}
    if all(paths.values()):
        payloads = {k: read_payload(p, FILES[k]) for k, p in paths.items()}
        parsed = {k: _parse(payloads[k], k, paths[k]) for k in keys}
        digests = {k: d for k, (_, d) in parsed.items()}
        ours = [k for k in keys if digests[k] == FILES[k].sha256]
        if ours and len(ours) < len(keys):  # some files MNIST's, some not: the strict parse says which differs
            for k in keys:
                parse_idx(payloads[k], FILES[k], origin=str(paths[k]))
        arrays = {k: a for k, (a, _) in parsed.items()}
        if ours:  # every file has its published SHA-256: exactly MNIST's bytes
            return arrays, digests, True
        _check_foreign(arrays, paths)
        return arrays, digests, False
    if (directory / NPZ_NAME).is_file():
        arrays = read_npz(directory / NPZ_NAME)
        digests = {k: FILES[k].sha256 for k in keys}  # read_npz verified each array as that file
        return {k: arrays[k] for k in keys}, digests, True
    raise DataError(missing_text(directory, keys))


def _parse(payload: bytes, key: str, path: Path) -> tuple[np.ndarray, str]:
    """``parse_any``; a file that does not parse is described against the MNIST file of its name (what it
    states and what that file has), the one set whose sizes are known."""
    try:
        return parse_any(payload, FILES[key], origin=str(path))
    except DataError:
        parse_idx(payload, FILES[key], origin=str(path))  # raises, naming the dimensions MNIST's file has
        raise


def _check_foreign(arrays: dict[str, np.ndarray], paths: dict[str, Path]) -> None:
    """Another dataset's files must be what the model takes: 28x28 images, one label per image."""
    for key, arr in arrays.items():
        if key.endswith("_images") and arr.shape[1:] != IMAGE_SIZE:
            h, w = arr.shape[1:]
            raise DataError(
                f"{paths[key]}: {arr.shape[0]} images of {h}x{w} pixels; edgemnist reads 28x28 greyscale images "
                f"(the model's 784 inputs)"
            )
    for split in ("train", "test"):
        images, labels = arrays.get(f"{split}_images"), arrays.get(f"{split}_labels")
        if images is not None and labels is not None and len(images) != len(labels):
            raise DataError(
                f"{paths[f'{split}_labels']}: {len(labels)} labels for the {len(images)} images of "
                f"{paths[f'{split}_images'].name}; expected one label per image"
            )
