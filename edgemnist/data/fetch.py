"""A hash-checked MNIST download into the cache, through pooch, from maintained mirrors.

A file lands in the cache only after its decompressed payload has the expected SHA-256; a failed or wrong
download is deleted and the next mirror is tried. Downloads in progress live in a hidden ``.download-<pid>-*``
folder; what a killed process left there (and any stale hidden temporary of the final copy) is deleted first.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from edgemnist.data.cache import offline_hint
from edgemnist.data.idx import IdxFile, read_idx_file
from edgemnist.data.mnist import DEFAULT_MIRRORS, FILES, find
from edgemnist.errors import DataError, DownloadError
from edgemnist.fileio import atomic_path, is_stale, remove_stale_temps

log = logging.getLogger(__name__)

ENV_MIRRORS = "EDGEMNIST_MIRRORS"


def mirrors() -> tuple[str, ...]:
    env = os.environ.get(ENV_MIRRORS)
    if env:
        return tuple(u if u.endswith("/") else u + "/" for u in env.split(",") if u.strip())
    return DEFAULT_MIRRORS


def download(target: Path, urls=None, *, keys=tuple(FILES), progress: bool = True) -> None:
    """Fetch the gzip IDX files ``keys`` into ``target``, verifying each before it lands (see the module doc)."""
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
    if find(target, spec):
        return
    fname = f"{spec.name}.gz"
    errors = []
    for base in urls:
        url = base + fname
        with tempfile.TemporaryDirectory(dir=target, prefix=f"{_DOWNLOAD_PREFIX}{os.getpid()}-") as tmp:
            try:
                log.info("downloading %s", url)
                got = Path(
                    pooch.retrieve(
                        url,
                        known_hash=None,
                        fname=fname,
                        path=tmp,
                        downloader=pooch.HTTPDownloader(progressbar=progress, timeout=60),
                    )
                )
                read_idx_file(got, spec)  # verifies the payload digest
            except Exception as exc:  # a bad file, or network errors of any kind: try the next mirror
                errors.append(f"{url} ({_reason(exc)})")
                log.info("mirror failed %s: %s", url, exc)
                continue
            with atomic_path(target / fname) as dest:
                shutil.copyfile(got, dest)
            return
    raise DownloadError(f"could not download {fname}: " + ", ".join(errors) + "; " + offline_hint())


def _reason(exc: BaseException) -> str:
    """Why one mirror failed, in a few words (requests' own messages run to hundreds of characters)."""
    if isinstance(exc, DataError):
        text = str(exc)
        if "SHA-256" in text:
            return "not the MNIST file: SHA-256 of the payload does not match"
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
