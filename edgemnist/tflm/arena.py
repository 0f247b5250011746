"""The tensor arena TFLM really needs, measured by probing it in child processes.

The smallest ``arena_size`` with which the real TFLM interpreter (PyPI ``tflite-micro``, reference kernels, a
64-bit host build) allocates and runs the model, found by bisection. Every probe runs in a child process,
because an arena a few bytes too small can crash TFLM (SIGSEGV) instead of failing ``AllocateTensors``.

The figure is for this host build (64-bit pointers, the Python wrapper's RecordingMicroAllocator, whose own
objects live in the arena too); a C++ MicroInterpreter with the plain allocator, or a 32-bit MCU with the
same reference kernels, needs somewhat less, while optimized kernels (CMSIS-NN...) may ask for scratch
buffers of their own. On the board, the check is ``AllocateTensors()``'s status; ``arena_used_bytes()`` is
not the arena's size (see ``recorded_arena_bytes``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from edgemnist.errors import QUOTE_LIMIT, ArtifactError
from edgemnist.fileio import sha256_bytes

#: The arena (and the model array) are declared ``alignas(ARENA_ALIGNMENT)``; TFLM aligns tensor buffers to 16.
ARENA_ALIGNMENT = 16
#: Bisection bounds: the first upper bound tried, and the largest arena considered at all.
FIRST_ARENA_GUESS = 64 << 10
MAX_ARENA_BYTES = 64 << 20
PROBE_TIMEOUT_S = 120
MEASURED_WITH = "tflite-micro Python interpreter (reference kernels, RecordingMicroAllocator, host build)"

# A child process: build the interpreter with argv[1] bytes of arena, run one all-zero input, exit 0 on
# success, 3 on a clean failure; a crash shows as a negative return code. Only tflite_micro is imported.
_PROBE = r"""
import sys
import numpy as np
from tflite_micro import runtime
data = sys.stdin.buffer.read()
try:
    ip = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[1]))
    d = ip.get_input_details(0)
    ip.set_input(np.zeros(d["shape"], d["dtype"]), 0)
    ip.invoke()
    ip.get_output(0)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
if "--report" in sys.argv:
    sys.stderr.flush()
    ip.print_allocations()
"""


def tflm_runtime():
    from edgemnist._deps import require

    return require("tflite_micro", "micro", what="tflite-micro").runtime


def round_up(n: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return -(-int(n) // alignment) * alignment


def _probe(model_bytes: bytes, arena_size: int, *, report: bool = False) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-I", "-c", _PROBE, str(int(arena_size))] + (["--report"] if report else [])
    try:
        return subprocess.run(argv, input=model_bytes, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ArtifactError(
            f"TFLM did not finish one inference within {PROBE_TIMEOUT_S} s (arena {arena_size} bytes)"
        ) from None


def _why(proc: subprocess.CompletedProcess, default: str) -> str:
    """Why a probe child failed: the signal that killed it, else the last line it wrote on stderr (its
    exception), else ``default``."""
    if proc.returncode < 0:
        return f"TFLM crashed (signal {-proc.returncode})"
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1][:QUOTE_LIMIT] if lines else default


def arena_fits(model_bytes: bytes, arena_size: int) -> bool:
    """Does the model allocate and run one inference in TFLM with ``arena_size`` bytes of arena?

    Runs in a child process, so an arena that crashes TFLM answers False instead of killing this one.
    """
    return arena_size > 0 and _probe(model_bytes, arena_size).returncode == 0


def recorded_arena_bytes(model_bytes: bytes, arena_size: int) -> int | None:
    """What TFLM's own RecordingMicroAllocator reports ("Arena allocation total") at ``arena_size``.

    For information only: it is read after ``AllocateTensors`` and leaves out the temporary peak of the kernels'
    Prepare. FULLY_CONNECTED's Prepare takes temporary copies of its input tensors, and a per-channel
    quantized tensor's copy holds a zero-point array of 4 + 4 N bytes (N = 512 channels: 2,052 B, once for the
    weights, once for the bias); they are gone when the allocator is asked. It understates what
    ``AllocateTensors`` needs by 3,040 B for this model (benchmarks/micro_arena_gap.py measures it: 7 B per
    hidden channel with a bias, 3 B without, 0 for per-tensor quantization), so an arena sized from it fails.
    """
    proc = _probe(model_bytes, arena_size, report=True)
    m = re.search(rb"Arena allocation total (\d+) bytes", proc.stderr)
    return int(m.group(1)) if proc.returncode == 0 and m else None


# A child process answering probes: one arena size per stdin line, "1" (fits) or "0" (clean failure) per
# stdout line. If an arena crashes it, the parent counts that probe as a failure and starts a new child.
_WORKER = r"""
import sys
import numpy as np
from tflite_micro import runtime
with open(sys.argv[1], "rb") as fh:
    data = fh.read()
for line in sys.stdin:
    try:
        ip = runtime.Interpreter.from_bytes(data, arena_size=int(line))
        d = ip.get_input_details(0)
        ip.set_input(np.zeros(d["shape"], d["dtype"]), 0)
        ip.invoke()
        ip.get_output(0)
        ok = 1
    except Exception:
        ok = 0
    ip = None
    sys.stdout.write(f"{ok}\n")
    sys.stdout.flush()
"""


class _Prober:
    """Probes arena sizes in a long-lived child (fast), restarting it whenever TFLM crashes it."""

    def __init__(self, model_bytes: bytes) -> None:
        fd, name = tempfile.mkstemp(prefix="edgemnist-micro-", suffix=".tflite")
        with open(fd, "wb") as fh:
            fh.write(model_bytes)
        self._model = Path(name)
        self._proc: subprocess.Popen | None = None

    def fits(self, arena_size: int) -> bool:
        import select

        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _WORKER, str(self._model)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        try:
            self._proc.stdin.write(f"{int(arena_size)}\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([self._proc.stdout], [], [], PROBE_TIMEOUT_S)
        if not ready:
            self._proc.kill()
            raise ArtifactError(
                f"TFLM did not finish one inference within {PROBE_TIMEOUT_S} s (arena {arena_size} bytes)"
            )
        answer = self._proc.stdout.readline().strip()
        return answer == "1" if answer else self._died()

    def _died(self) -> bool:
        self._proc.wait()
        self._proc = None
        return False

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.wait(timeout=PROBE_TIMEOUT_S)
        self._model.unlink(missing_ok=True)


def _bisect(fits, hi: int) -> int:
    """The smallest n in (0, hi] with fits(n), given fits(hi) and fits monotone."""
    lo = 0  # invariant: lo does not fit, hi fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def min_arena_bytes(model_bytes: bytes) -> int:
    """The smallest tensor arena (exact, in bytes) with which TFLM allocates and runs the model.

    Doubles an upper bound from FIRST_ARENA_GUESS until it fits, then bisects (~16 probes in one child
    process, restarted after each crash); the answer n is then confirmed in fresh processes (n fits,
    n - 1 does not), falling back to one fresh process per probe if they disagree. Raises ArtifactError
    if even MAX_ARENA_BYTES does not fit.
    """
    tflm_runtime()  # fail early, in this process, if tflite-micro is missing
    prober = _Prober(model_bytes)
    try:
        hi = FIRST_ARENA_GUESS
        if not prober.fits(hi) and not prober.fits(MAX_ARENA_BYTES):  # a broken model: no doubling
            proc = _probe(model_bytes, MAX_ARENA_BYTES)
            why = _why(proc, "no message")
            raise ArtifactError(
                f"the model does not run in TFLite Micro even with a {MAX_ARENA_BYTES}-byte arena ({why})"
            )
        while not prober.fits(hi):
            hi *= 2
        n = _bisect(prober.fits, hi)
    finally:
        prober.close()
    if arena_fits(model_bytes, n) and not arena_fits(model_bytes, n - 1):
        remember_runs(model_bytes, n)
        return n
    n = _bisect(lambda size: arena_fits(model_bytes, size), hi)
    remember_runs(model_bytes, n)
    return n


# (model sha256, arena) pairs a child process has run: TFLM may run them in this process.
_PROVEN: set[tuple[str, int]] = set()
_PROVEN_LOCK = threading.Lock()


def remember_runs(model_bytes: bytes, arena_size: int) -> None:
    """Record that TFLM runs this model with ``arena_size`` bytes (a child ran it, or a manifest vouches)."""
    with _PROVEN_LOCK:
        _PROVEN.add((sha256_bytes(model_bytes), int(arena_size)))


def ensure_runs(model_bytes: bytes, arena_size: int) -> None:
    """Raise ArtifactError unless TFLM allocates and runs the model with ``arena_size`` bytes, finding out in
    a child process (once per model and arena in this process): a malformed model or a too-small arena can
    crash TFLM itself, and the process that asks must survive that."""
    key = (sha256_bytes(model_bytes), int(arena_size))
    with _PROVEN_LOCK:
        if key in _PROVEN:
            return
    proc = _probe(model_bytes, arena_size)
    if proc.returncode != 0:
        why = _why(proc, f"exit {proc.returncode}")
        raise ArtifactError(f"TFLite Micro cannot run the model with a {arena_size}-byte arena ({why})")
    with _PROVEN_LOCK:
        _PROVEN.add(key)
