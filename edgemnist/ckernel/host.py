"""The generated C on this machine: compiled once into a shared library, called through ctypes.

``HostKernel(c_path)`` compiles ``edgemnist_model.c`` (with its header beside it) with the system C compiler
(``$CC`` or ``cc``) under ``-std=c99 -Wall -Wextra -pedantic -Werror``, into
``<user cache>/edgemnist/ckernel/<sha256>.so``, where the sha256 covers the C file, the header, the compiler's
identity and the flags: a second load of the same file is a ``dlopen`` only. The library is built to a temporary
name and renamed, so a concurrent or interrupted build never leaves a half-written library under the final name.

Nothing is compiled before :func:`verified_pair` has proven the pair to be exactly what edgemnist's generator writes
(``reader.check_pair``: bounded reads, a strict parse of every constant, the templates re-filled with the parsed values
equal to the files byte for byte): compiling a ``.c`` runs whatever it holds, so any other text is refused. Every
build (host, Cortex-M4, wasm) compiles from a private copy (:func:`private_pair`) without the compiler's include-path
variables, so nothing beside the artifact is read.

Never imports TensorFlow; needs only a C compiler.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from edgemnist.ckernel import reader
from edgemnist.ckernel.layout import HEADER_NAME, MAX_HEADER_BYTES, MAX_SOURCE_BYTES, SOURCE_NAME
from edgemnist.errors import ArtifactError, MissingDependencyError
from edgemnist.fileio import atomic_path

WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror")
HOST_FLAGS = WARNINGS + ("-O2", "-fPIC", "-shared")
COMPILE_TIMEOUT_S = 300
INPUT_SIZE, OUTPUT_SIZE = 784, 10


def cache_dir() -> Path:
    """``$EDGEMNIST_CACHE_DIR`` or the user cache dir (``$XDG_CACHE_HOME`` or ``~/.cache``) + ``edgemnist/ckernel``."""
    if os.environ.get("EDGEMNIST_CACHE_DIR"):
        return Path(os.environ["EDGEMNIST_CACHE_DIR"]) / "ckernel"
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edgemnist" / "ckernel"


def compiler() -> str:
    """The C compiler: ``$CC`` or ``cc``; MissingDependencyError if there is none."""
    cc = os.environ.get("CC") or "cc"
    found = shutil.which(cc)
    if not found:
        raise MissingDependencyError(
            f"the C artifact needs a C compiler to run on this machine; {cc!r} is not on "
            f"PATH (Debian: apt-get install gcc)"
        )
    return found


def _compiler_id(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out.splitlines()[0] if out else cc


def compiler_version() -> str:
    return _compiler_id(compiler())


def header_path(c_path: str | Path) -> Path:
    """The header of ``c_path``: ``<stem>.h`` beside it (how an export stages it), else ``edgemnist_model.h``."""
    c_path = Path(c_path)
    own = c_path.with_suffix(".h")
    return own if own.is_file() else c_path.with_name(HEADER_NAME)


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (never more held in memory); ArtifactError otherwise."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ArtifactError(f"{path}: the {what} is not a regular file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ArtifactError(
            f"{path}: not an edgemnist-generated C kernel (the {what} is larger than {limit} bytes, "
            f"the largest the allow-list permits)"
        )
    return data


def verified_pair(c_path: str | Path, header: str | Path | None = None) -> tuple[bytes, bytes, dict]:
    """(C text, header text, parsed values) of the pair, proven to be exactly what edgemnist's generator writes
    (``reader.check_pair``: bounded reads, strict parse, byte-for-byte re-render). Nothing is compiled before this
    returns; ArtifactError if either file is missing, too large, or not the generator's."""
    c_path = Path(c_path)
    h_path = Path(header) if header is not None else header_path(c_path)
    c_text = _read_bounded(c_path, MAX_SOURCE_BYTES, "C file")
    if not h_path.exists():
        raise ArtifactError(
            f"{c_path}: its header {HEADER_NAME} is missing beside it; the C artifact is the pair "
            f"edgemnist_model.c + {HEADER_NAME}"
        )
    h_text = _read_bounded(h_path, MAX_HEADER_BYTES, "header")
    ids = [
        re.search(rb"sha256 ([0-9a-f]{64})", c_text[:2000]),
        re.search(rb'EDGEMNIST_SOURCE_SHA256 "([0-9a-f]{64})"', h_text),
    ]
    if all(ids) and ids[0].group(1) != ids[1].group(1):
        raise ArtifactError(
            f"{h_path}: this header was generated from another model than {c_path.name} "
            f"(source sha256 {ids[1].group(1).decode()[:12]}... vs {ids[0].group(1).decode()[:12]}...)"
        )
    values = reader.check_pair(c_text, h_text, str(c_path), str(h_path))
    return c_text, h_text, values


def read_pair(c_path: str | Path, header: str | Path | None = None) -> tuple[bytes, bytes]:
    """(C text, header text) of the pair after :func:`verified_pair`'s proof."""
    c_text, h_text, _ = verified_pair(c_path, header)
    return c_text, h_text


#: Environment variables through which a compiler would read or write files beyond the command line.
_COMPILER_ENV = (
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "LIBRARY_PATH",
)


def compiler_env() -> dict[str, str]:
    """The environment for a compile of a verified pair: without the include-path variables."""
    return {k: v for k, v in os.environ.items() if k not in _COMPILER_ENV}


@contextlib.contextmanager
def private_pair(c_path: str | Path, header: str | Path | None = None):
    """A private temporary folder holding the verified pair under its canonical names (and nothing else): compile
    from there, so nothing beside the artifact (a ``stdint.h``, another header) can be picked up, and the bytes
    compiled are the bytes verified. Yields (folder, C text, header text)."""
    c_text, h_text, _ = verified_pair(c_path, header)
    with tempfile.TemporaryDirectory(prefix="edgemnist-cc-") as tmp:
        (Path(tmp) / SOURCE_NAME).write_bytes(c_text)
        (Path(tmp) / HEADER_NAME).write_bytes(h_text)
        yield Path(tmp), c_text, h_text


def _run_compiler(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The one place a compile of the kernel is run (tests patch it to prove a refused pair never reaches it)."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, cwd=cwd, env=compiler_env())


def build_shared(c_path: str | Path, header: str | Path | None = None, *, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile the pair into a cached shared library and return its path (see :func:`_build`)."""
    return _build(c_path, header, extra_flags)[0]


def _build(c_path: str | Path, header: str | Path | None, extra_flags: tuple[str, ...] = ()) -> tuple[Path, bytes]:
    """(library, the verified header text it was built with). Compile the pair into a cached shared library and
    return its path (no-op when cached). The pair is first
    proven to be edgemnist's (:func:`verified_pair`), then compiled from a private folder under its canonical
    names (:func:`private_pair`), so a staged (temporary) name works too and nothing beside it is read."""
    c_path = Path(c_path)
    flags = HOST_FLAGS + tuple(extra_flags)
    with private_pair(c_path, header) as (tmp, c_text, h_text):
        cc = compiler()
        key = hashlib.sha256(b"\0".join([c_text, h_text, _compiler_id(cc).encode(), " ".join(flags).encode()]))
        lib = cache_dir() / f"{key.hexdigest()}.so"
        if lib.exists():
            return lib, h_text
        lib.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(lib) as out:
            cmd = [cc, *flags, "-o", str(out), SOURCE_NAME]
            try:
                proc = _run_compiler(cmd, tmp)
            except subprocess.TimeoutExpired:
                raise ArtifactError(f"{c_path}: the C compiler did not finish within {COMPILE_TIMEOUT_S} s") from None
            if proc.returncode != 0:
                detail = (proc.stderr or proc.stdout).strip().splitlines()[:5]
                raise ArtifactError(f"{c_path}: does not compile as edgemnist's C kernel ({' | '.join(detail)[:600]})")
    return lib, h_text


#: One lock per loaded library: dlopen returns the same handle (and so the same static activation buffer) to every
#: HostKernel of one library in a process, so calls into it are serialized across instances.
_LIBRARY_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _library_lock(library: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LIBRARY_LOCKS.setdefault(str(library), threading.Lock())


class HostKernel:
    """``edgemnist_predict`` from a shared library built from ``c_path``; ``run`` is thread-safe (the C keeps one
    static activation buffer, so calls into one library are serialized, across instances too)."""

    def __init__(self, c_path: str | Path, header: str | Path | None = None) -> None:
        self.c_path = Path(c_path)
        self.library, self.header_text = _build(self.c_path, header)
        try:
            self._lib = ctypes.CDLL(str(self.library))
            self._predict = self._lib.edgemnist_predict
        except (OSError, AttributeError) as exc:
            raise ArtifactError(f"{self.c_path}: the compiled library cannot be loaded ({exc})") from None
        self._predict.restype = ctypes.c_int
        self._predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        #: The raw ctypes ``edgemnist_predict(pixels_ptr, scores_ptr)``, unlocked (for single-threaded baselines).
        self.predict = self._predict
        path = self._lib.edgemnist_path
        path.restype = ctypes.c_char_p
        self.path_name = path().decode("ascii", "replace")
        self._lock = _library_lock(self.library)

    def run(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 784) uint8 pixels -> ((N, 10) int8 scores, (N,) int64 digits)."""
        x = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1, INPUT_SIZE)
        scores = np.empty((len(x), OUTPUT_SIZE), np.int8)
        digits = np.empty(len(x), np.int64)
        base_in, base_out = x.ctypes.data, scores.ctypes.data
        predict = self._predict
        with self._lock:
            for i in range(len(x)):
                digits[i] = predict(base_in + i * INPUT_SIZE, base_out + i * OUTPUT_SIZE)
        return scores, digits

    def run_raw(self, pixels: np.ndarray, n_in: int, n_out: int = OUTPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """``run`` for a kernel of another input size (tests of generated models other than the MNIST MLP)."""
        x = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1, n_in)
        scores = np.empty((len(x), n_out), np.int8)
        digits = np.empty(len(x), np.int64)
        with self._lock:
            for i in range(len(x)):
                digits[i] = self._predict(x.ctypes.data + i * n_in, scores.ctypes.data + i * n_out)
        return scores, digits

    def scores(self, int8_inputs: np.ndarray) -> np.ndarray:
        """(N, 784) int8 model inputs (q = p - 128) -> (N, 10) int8 scores."""
        q = np.ascontiguousarray(int8_inputs, dtype=np.int8).reshape(-1, INPUT_SIZE)
        return self.run((q.astype(np.int16) + 128).astype(np.uint8))[0]
