"""Where MNIST is read from, and how it gets into the user cache without a download.

Sources, in order: an explicit ``data_dir``; ``$EDGEMNIST_DATA_DIR``; the user cache (``$XDG_CACHE_HOME/edgemnist``
or ``~/.cache/edgemnist``), which a download fills and ``import_dir`` (``edgemnist data import DIR``) fills from
a folder of files the user already has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgemnist.data.idx import decode, read_bytes
from edgemnist.data.mnist import DEFAULT_MIRRORS, FILES, NPZ_NAME, find, missing_text, read_npz
from edgemnist.errors import DataError
from edgemnist.fileio import atomic_write_bytes

ENV_DATA_DIR = "EDGEMNIST_DATA_DIR"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgemnist"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Pick the folder to read from and say why: ``(path, "argument" | "environment" | "cache")``."""
    if data_dir is not None:
        return Path(data_dir), "argument"
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env), "environment"
    return cache_dir(), "cache"


def offline_hint(*, cli: bool = False) -> str:
    """How to work without a download, in library terms; ``cli=True``: in the command's (the CLI swaps one for
    the other, ``edgemnist.commands._common.with_flags``)."""
    how = "pass it with --data-dir DIR" if cli else "pass it as data_dir"
    return (
        f"to work offline, put the four MNIST files ({', '.join(f'{s.name}.gz' for s in FILES.values())}, "
        f"from {DEFAULT_MIRRORS[0]}) or Keras' {NPZ_NAME} in a folder and import it once with "
        f"`edgemnist data import DIR`, or {how} or set {ENV_DATA_DIR}"
    )


@dataclass(frozen=True)
class Imported:
    """What ``import_dir`` wrote: the cache folder and the files now in it (verified)."""

    folder: Path
    files: tuple[Path, ...]


def import_dir(source: str | os.PathLike[str]) -> Imported:
    """Verify the MNIST files in ``source`` (the four IDX files, .gz or raw, else Keras' mnist.npz) by SHA-256
    and copy them into the user cache, where later loads find them with no ``data_dir`` or variable.

    Every file is read and verified before anything is written, and the bytes verified are the bytes written,
    each atomically: a bad folder (not a folder, a file missing, a file that is not MNIST's) raises DataError
    and leaves the cache as it was; an interrupted import leaves only whole, verified files.
    """
    source = Path(source)
    if not source.is_dir():
        raise DataError(
            f"{source}: not a folder; expected a folder with the four MNIST files "
            f"({', '.join(s.name for s in FILES.values())}, .gz or raw) or {NPZ_NAME}"
        )
    found = {key: find(source, spec) for key, spec in FILES.items()}
    payloads: dict[str, bytes] = {}
    if all(found.values()):
        for key, path in found.items():
            raw = read_bytes(path, FILES[key].name)
            decode(raw, FILES[key], origin=str(path))  # a DataError names the file and what was expected
            payloads[path.name] = raw
    elif (source / NPZ_NAME).is_file():
        raw = read_bytes(source / NPZ_NAME, NPZ_NAME)
        read_npz(source / NPZ_NAME, raw)
        payloads[NPZ_NAME] = raw
    else:
        raise DataError(missing_text(source))
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, raw in payloads.items():
        written.append(atomic_write_bytes(target / name, raw))
        shadow = _other_copy(name)  # a raw copy next to a .gz (or the reverse) would be read instead
        if shadow is not None and (target / shadow).is_file() and (target / shadow) != target / name:
            (target / shadow).unlink()
    return Imported(target, tuple(written))


def _other_copy(name: str) -> str | None:
    """The other spelling of an IDX file name in the cache: ``x.gz`` <-> ``x`` (None for mnist.npz)."""
    if name == NPZ_NAME:
        return None
    return name[:-3] if name.endswith(".gz") else f"{name}.gz"
