"""The generated C on this machine: built for the ``host`` target (a cached shared library, see
:mod:`edgemnist.build.compile`) and called through ctypes.

``HostKernel(c_path)`` builds the pair (a second load of the same pair is a ``dlopen`` only) and calls
``edgemnist_predict`` once per image; the input and output sizes are the ones the kernel's header states, so it
runs any generated model, not only the MNIST MLP. Never imports TensorFlow; needs only a C compiler.
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from edgemnist.build import compile as _compile
from edgemnist.ckernel.reader import read_header
from edgemnist.errors import ArtifactError

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

    def __init__(self, c_path: str | Path, header: str | Path | None = None, *, extra_flags: tuple[str, ...] = ()):
        self.c_path = Path(c_path)
        self.build = _compile.build("host", self.c_path, header, extra_flags=extra_flags)
        self.library, self.header_text = self.build.file, self.build.header_text
        facts = read_header(self.header_text.decode("ascii"), str(self.c_path.with_suffix(".h")))
        self.input_size, self.output_size = facts["EDGEMNIST_INPUT_SIZE"], facts["EDGEMNIST_OUTPUT_SIZE"]
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
        """(N, inputs) uint8 pixels -> ((N, outputs) int8 scores, (N,) int64 digits)."""
        n_in, n_out = self.input_size, self.output_size
        x = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1, n_in)
        scores = np.empty((len(x), n_out), np.int8)
        digits = np.empty(len(x), np.int64)
        base_in, base_out = x.ctypes.data, scores.ctypes.data
        predict = self._predict
        with self._lock:
            for i in range(len(x)):
                digits[i] = predict(base_in + i * n_in, base_out + i * n_out)
        return scores, digits


# ============================================================================== the bare C timing loop

#: The build target of the timing driver (harness/timing_main.c around the kernel, the host compiler).
TIMING_TARGET = "host-timing"
#: The test set's size: the driver's static buffer holds at most this many images.
MAX_TIMING_IMAGES = 10000


def build_timing_driver(c_path: str | Path, header: str | Path | None = None) -> Path:
    """The ``host-timing`` build of the pair (cached like every build): a program that times
    ``edgemnist_predict`` on each image with no Python in the loop. ``run_timing_driver`` runs it."""
    return _compile.build(TIMING_TARGET, c_path, header).file


def parse_timing_output(text: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(nanoseconds, labels) of ``n`` images from the timing driver's output ("<ns> <label>" per line);
    ArtifactError for anything else."""
    fields = text.split()
    if len(fields) != 2 * n:
        raise ArtifactError(f"the timing driver printed {len(fields)} fields, expected {2 * n} ({n} images)")
    try:
        values = np.array([int(v) for v in fields], dtype=np.int64).reshape(n, 2)
    except ValueError:
        raise ArtifactError("the timing driver printed something other than integers") from None
    ns, labels = values[:, 0], values[:, 1]
    if (ns < 0).any() or ((labels < 0) | (labels > 9)).any():
        raise ArtifactError("the timing driver printed a negative time or a label outside 0-9")
    return ns, labels


def run_timing_driver(exe: Path, pixels: np.ndarray, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """(nanoseconds per call, labels) of the bare C loop over uint8 (N, 784) ``pixels`` after ``warmup`` calls."""
    x = np.ascontiguousarray(np.asarray(pixels, dtype=np.uint8).reshape(len(pixels), -1))
    if not 1 <= len(x) <= MAX_TIMING_IMAGES:
        raise ValueError(f"expected 1 to {MAX_TIMING_IMAGES} images, got {len(x)}")
    with tempfile.TemporaryDirectory(prefix="edgemnist-timing-") as tmp:
        images = Path(tmp) / "images.u8"
        images.write_bytes(x.tobytes())
        proc = subprocess.run([str(exe), str(images), str(int(warmup))], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ArtifactError(f"the timing driver failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return parse_timing_output(proc.stdout, len(x))
