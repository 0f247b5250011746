"""Atomic writes and hashing: an interrupted write never leaves half a file behind.

A write goes to a hidden temporary beside the target, ``.<name>.<pid>.<random>.tmp<suffix>``, which is
fsynced and then renamed over the target. A SIGKILL can leave such a temporary behind (never a half-written
target); ``remove_stale_temps`` deletes the ones an earlier, dead process left, and export, train and the
MNIST download call it on the folder they write into.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: When this process started, as far as edgemnist can tell (this module is imported before any write).
PROCESS_START = time.time()


_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def temp_sibling(path: str | os.PathLike[str]) -> Path:
    """Create (empty) and return a new hidden temporary beside ``path``: ``.<name>.<pid>.<random>.tmp<suffix>``.

    It keeps the target's suffix (Keras and LiteRT insist on it), is hidden and says .tmp; the pid lets a later
    process tell a dead writer's leftovers from a live writer's work in progress. Created with mode 0o666, so
    the process umask applies exactly as for any other file this process writes.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    import random  # here, not at import: the device path never writes a file

    rng = random.SystemRandom()
    for _ in range(100):
        token = "".join(rng.choice(_TEMP_CHARS) for _ in range(8))
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{token}.tmp{target.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{target.parent}: no free temporary name for {target.name}")


def fsync_replace(src: Path, dst: Path) -> None:
    """fsync ``src`` and rename it over ``dst`` (atomic)."""
    with open(src, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(src, dst)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On any exception (or if the process dies) the target is untouched and the temporary file is
    removed (after SIGKILL only a hidden ``.<name>.<pid>.<random>.tmp<suffix>`` can remain, never the target;
    see ``remove_stale_temps``).
    """
    target = Path(path)
    tmp_path = temp_sibling(target)
    try:
        yield tmp_path
        fsync_replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    import json

    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_bytes(data: bytes) -> str:
    return _sha256(len(data))(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = _sha256(os.path.getsize(path))()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def temp_pattern(name: str) -> re.Pattern[str]:
    """The hidden temporaries ``atomic_path`` (and the exporters' staged companions) create for ``name``;
    group 1 is the writer's pid."""
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp(?:\.[A-Za-z0-9_]+)?$")


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap, harmless liveness probe (os.kill would terminate it): keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a live process of another user
        return True
    return pid != os.getpid()  # our own pid on an older file: a previous process that had our number


def is_stale(path: Path, pid: int) -> bool:
    """Left by a dead process: modified before this process started, by a writer that no longer runs."""
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return False
    return mtime < PROCESS_START and not _pid_alive(pid)


def remove_stale_temps(folder: str | os.PathLike[str], names: Iterable[str]) -> list[Path]:
    """Delete the hidden temporaries for ``names`` that a killed edgemnist process left in ``folder``.

    Only files matching our own pattern (``.<name>.<pid>.<random>.tmp<suffix>``), older than this process
    and written by a process that is gone; a concurrent writer's temporary is left alone. Returns what was
    deleted. (On non-POSIX systems nothing is deleted.)
    """
    folder = Path(folder)
    patterns = [temp_pattern(n) for n in set(names)]
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        for pattern in patterns:
            m = pattern.match(entry.name)
            if m and not entry.is_symlink() and entry.is_file() and is_stale(entry, int(m.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
                break
    return removed


#: Up to this size, hash with CPython's built-in SHA-256 instead of hashlib's OpenSSL one: the same digest,
#: slower per byte, but importing hashlib maps OpenSSL's libcrypto (~3.7 MB of RSS and a few ms at start-up),
#: which a device that only checks one ~0.4 MB model against its manifest should not pay.
BUILTIN_SHA256_MAX = 8 << 20


def _sha256(size: int):
    """The SHA-256 constructor to use for ``size`` bytes (identical digests either way)."""
    if size <= BUILTIN_SHA256_MAX:
        # CPython >= 3.12 has _sha2, 3.10-3.11 _sha256: the running version's first (a failed import costs too)
        for module in ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256", "_sha2"):
            try:
                return __import__(module).sha256
            except (ImportError, AttributeError):
                continue
    import hashlib

    return hashlib.sha256
