"""MNIST, loaded reliably: local IDX/npz files verified by SHA-256, or a hash-checked download.

Sources, in order: an explicit ``data_dir``; ``$EDGEMNIST_DATA_DIR``; the user cache
(``$XDG_CACHE_HOME/edgemnist`` or ``~/.cache/edgemnist``); else a download into the cache from
maintained mirrors, trying the next one when a mirror fails or serves a bad file.

Every file is identified by the SHA-256 of its *decompressed* IDX payload, which holds for the
published ``.gz`` files and for re-compressed copies alike. Keras' ``mnist.npz`` is checked the same way,
by rebuilding the IDX bytes from its arrays.

The ``mnist`` package's ``parse_idx`` is not used: it reads through ``array.array`` with a copy and byte swap,
does not notice a truncated dimension header, and we need the raw payload bytes for the hash anyway;
``np.frombuffer`` on the verified bytes is exact and zero-copy.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemnist.errors import DataError, DownloadError
from edgemnist.fileio import atomic_path, is_stale, remove_stale_temps, sha256_bytes

log = logging.getLogger(__name__)

ENV_DATA_DIR = "EDGEMNIST_DATA_DIR"
ENV_MIRRORS = "EDGEMNIST_MIRRORS"

DEFAULT_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


@dataclass(frozen=True)
class IdxFile:
    name: str
    shape: tuple[int, ...]
    sha256: str  # of the decompressed IDX payload, header included

    @property
    def magic(self) -> int:
        return 0x0800 + len(self.shape)  # unsigned byte data, ndim dimensions


FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte", (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte", (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte", (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte", (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
NPZ_NAME = "mnist.npz"
NPZ_KEYS = {"train_images": "x_train", "train_labels": "y_train",
            "test_images": "x_test", "test_labels": "y_test"}
MAX_COMPRESSED_BYTES = 64 << 20  # no MNIST file is larger; refuse to inflate anything bigger


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


# --------------------------------------------------------------------------- parsing


def parse_idx(payload: bytes, spec: IdxFile, *, origin: str) -> np.ndarray:
    """Decode an uncompressed IDX payload, checking it is exactly the MNIST file ``spec``."""
    ndim = len(spec.shape)
    header_len = 4 + 4 * ndim
    if len(payload) < header_len:
        raise DataError(f"{origin}: truncated: {len(payload)} bytes, shorter than the {header_len}-byte IDX header")
    magic = struct.unpack(">I", payload[:4])[0]
    if magic != spec.magic:
        raise DataError(
            f"{origin}: bad magic number 0x{magic:08x}, expected 0x{spec.magic:08x} "
            f"(unsigned-byte IDX with {ndim} dimension{'s' if ndim > 1 else ''}); is this {spec.name}?"
        )
    dims = struct.unpack(f">{ndim}I", payload[4:header_len])
    if dims != spec.shape:
        raise DataError(f"{origin}: dimensions {dims}, expected {spec.shape}")
    expected = header_len + int(np.prod(spec.shape))
    if len(payload) != expected:
        what = "truncated" if len(payload) < expected else "has trailing bytes"
        raise DataError(f"{origin}: {what}: {len(payload)} bytes, expected {expected}")
    digest = sha256_bytes(payload)
    if digest != spec.sha256:
        raise DataError(f"{origin}: corrupted: SHA-256 of the IDX payload is {digest}, expected {spec.sha256}")
    arr = np.frombuffer(payload, dtype=np.uint8, offset=header_len).reshape(spec.shape)
    if ndim == 1 and int(arr.max()) > 9:
        raise DataError(f"{origin}: label {int(arr.max())} out of range 0-9")
    return arr


def _inflate(raw: bytes, origin: str) -> bytes:
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = out.decompress(raw, MAX_COMPRESSED_BYTES)
        if out.unconsumed_tail:
            raise DataError(f"{origin}: decompresses to more than {MAX_COMPRESSED_BYTES} bytes; not an MNIST file")
        if not out.eof:
            raise DataError(f"{origin}: truncated gzip stream (file cut short?)")
        return data
    except zlib.error as exc:
        raise DataError(f"{origin}: corrupted gzip data ({exc})") from None


def read_idx_file(path: Path, spec: IdxFile) -> np.ndarray:
    """Read ``path`` (gzip or raw IDX, told apart by content) as the MNIST file ``spec``."""
    try:
        size = path.stat().st_size
        if size > MAX_COMPRESSED_BYTES:
            raise DataError(f"{path}: {size} bytes, too large for {spec.name}")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    payload = _inflate(raw, str(path)) if raw[:2] == b"\x1f\x8b" else raw
    return parse_idx(payload, spec, origin=str(path))


def idx_header(spec: IdxFile) -> bytes:
    return struct.pack(f">I{len(spec.shape)}I", spec.magic, *spec.shape)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read Keras' mnist.npz (no pickle) and verify each array as if it were its IDX file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
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


# --------------------------------------------------------------------------- locating


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgemnist"


def _find(directory: Path, spec: IdxFile) -> Path | None:
    for candidate in (directory / f"{spec.name}.gz", directory / spec.name):
        if candidate.is_file():
            return candidate
    return None


def _complete(directory: Path) -> bool:
    return (directory / NPZ_NAME).is_file() or all(_find(directory, s) for s in FILES.values())


def read_dir(directory: Path, keys=tuple(FILES)) -> dict[str, np.ndarray]:
    """Read the MNIST files ``keys`` from ``directory`` (IDX .gz or raw, else mnist.npz)."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory; expected a folder with the four MNIST IDX files")
    paths = {k: _find(directory, FILES[k]) for k in keys}
    if all(paths.values()):
        return {k: read_idx_file(p, FILES[k]) for k, p in paths.items()}
    if (directory / NPZ_NAME).is_file():
        arrays = read_npz(directory / NPZ_NAME)
        return {k: arrays[k] for k in keys}
    missing = ", ".join(f"{FILES[k].name}[.gz]" for k, p in paths.items() if p is None)
    raise DataError(f"{directory}: missing {missing} (or {NPZ_NAME})")


def mirrors() -> tuple[str, ...]:
    env = os.environ.get(ENV_MIRRORS)
    if env:
        return tuple(u if u.endswith("/") else u + "/" for u in env.split(",") if u.strip())
    return DEFAULT_MIRRORS


def download(target: Path, urls=None, *, keys=tuple(FILES), progress: bool = True) -> None:
    """Fetch the gzip IDX files into ``target`` through pooch, verifying each before it lands.

    A file is written to ``target`` only after its decompressed payload has the expected SHA-256;
    a failed or corrupted download is deleted and the next mirror is tried. Downloads in progress live in a
    hidden ``.download-<pid>-*`` folder; what a killed process left there (and any stale hidden temporary of
    the final copy) is deleted first.
    """
    from edgemnist._deps import require

    pooch = require("pooch", "data", what="pooch (needed to download MNIST)")
    urls = tuple(urls) if urls is not None else mirrors()
    target.mkdir(parents=True, exist_ok=True)
    _remove_stale_downloads(target)
    pooch_log = pooch.get_logger()  # pooch prints "Downloading ..." and hash advice on its own handler
    level = pooch_log.level
    pooch_log.setLevel(logging.WARNING)
    try:
        for key in keys:
            _download_one(pooch, target, FILES[key], urls, progress)
    finally:
        pooch_log.setLevel(level)


def _download_one(pooch, target: Path, spec: IdxFile, urls, progress: bool) -> None:
    if _find(target, spec):
        return
    fname = f"{spec.name}.gz"
    errors = []
    for base in urls:
        url = base + fname
        with tempfile.TemporaryDirectory(dir=target, prefix=f"{_DOWNLOAD_PREFIX}{os.getpid()}-") as tmp:
            try:
                log.info("downloading %s", url)
                got = Path(pooch.retrieve(
                    url, known_hash=None, fname=fname, path=tmp,
                    downloader=pooch.HTTPDownloader(progressbar=progress, timeout=60),
                ))
                read_idx_file(got, spec)  # verifies the payload digest
            except Exception as exc:  # a bad file, or network errors of any kind: try the next mirror
                errors.append(f"{url} ({_reason(exc)})")
                log.info("mirror failed %s: %s", url, exc)
                continue
            with atomic_path(target / fname) as dest:
                shutil.copyfile(got, dest)
            return
    raise DownloadError(f"could not download {fname}: " + ", ".join(errors) + "; " + offline_hint())


def offline_hint(*, cli: bool = False) -> str:
    """How to work without a download, in library terms; ``cli=True``: in the command's (the CLI swaps one for
    the other, ``edgemnist.commands._common.with_flags``)."""
    how = "pass it with --data-dir DIR" if cli else "pass it as data_dir"
    return (f"to work offline, put the four MNIST files ({', '.join(f'{s.name}.gz' for s in FILES.values())}, "
            f"from {DEFAULT_MIRRORS[0]}) or Keras' {NPZ_NAME} in a folder and {how} or set {ENV_DATA_DIR}")


def _reason(exc: BaseException) -> str:
    """Why one mirror failed, in a few words (requests' own messages run to hundreds of characters)."""
    if isinstance(exc, DataError):
        text = str(exc)
        if "SHA-256" in text:
            return "corrupted: SHA-256 of the payload does not match"
        return text.rsplit(": ", 1)[-1][:120] if ": " in text else text[:120]
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    text = " ".join(chain)
    return next((what for needle, what in _NETWORK_REASONS if needle in text), type(exc).__name__)


#: (text in an exception chain, what it means) for the usual network failures, first match wins.
_NETWORK_REASONS = (
    ("NameResolution", "host not found; offline?"),
    ("Name or service not known", "host not found; offline?"),
    ("Temporary failure in name resolution", "host not found; offline?"),
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Network is unreachable", "network unreachable"),
    ("SSL", "TLS error"),
)


_DOWNLOAD_PREFIX = ".download-"
_DOWNLOAD_DIR = re.compile(rf"^{re.escape(_DOWNLOAD_PREFIX)}(\d+)-[a-z0-9_]{{8}}$")


def _remove_stale_downloads(target: Path) -> None:
    """Delete what a killed download left in the cache: its ``.download-<pid>-*`` folder and hidden
    temporaries of the final copy, when older than this process and their process is gone."""
    remove_stale_temps(target, [f"{s.name}.gz" for s in FILES.values()])
    for entry in target.iterdir():
        m = _DOWNLOAD_DIR.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and is_stale(entry, int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Pick the folder to read from and say why: ``(path, "argument" | "environment" | "cache")``."""
    if data_dir is not None:
        return Path(data_dir), "argument"
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env), "environment"
    return cache_dir(), "cache"


def _load(keys, data_dir, download_missing: bool, progress: bool) -> dict[str, np.ndarray]:
    directory, origin = resolve_data_dir(data_dir)
    if origin == "cache" and not _complete(directory):
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
