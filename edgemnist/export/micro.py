"""Keras -> TensorFlow Lite Micro: the full-integer int8 model as a C array, with the arena it really needs.

``export_micro`` builds the int8 TFLite model with int8 I/O (``edgemnist.export.tflite.export_tflite``)
and writes ``model_data.h`` (constants and declarations) beside ``model_data.cc`` (the array)::

    alignas(16) const unsigned char g_edgemnist_model_data[] = {0x1c, 0x00, ...};
    const unsigned int g_edgemnist_model_data_len = 423192;
    constexpr std::size_t kEdgemnistTensorArenaSize = 9936;   // in model_data.h

The tensor arena is measured, not guessed: the smallest ``arena_size`` with which the real TFLM interpreter
(PyPI ``tflite-micro``, reference kernels, a 64-bit host build) allocates and runs the model, found by
bisection, then rounded up to ``ARENA_ALIGNMENT`` bytes. Every probe runs in a child process, because an
arena a few bytes too small can crash TFLM (SIGSEGV) instead of failing ``AllocateTensors``.

The figure is for this host build (64-bit pointers, the Python wrapper's recording allocator); a 32-bit MCU
with the same reference kernels should need somewhat less, while optimized kernels (CMSIS-NN...) may ask for
scratch buffers of their own, so check ``MicroInterpreter::arena_used_bytes()`` on the board once.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.fileio import atomic_write_text, sha256_bytes, sha256_file
from edgemnist.flatbuffer import check_tflite

ARRAY_SYMBOL = "g_edgemnist_model_data"
LENGTH_SYMBOL = "g_edgemnist_model_data_len"
ARENA_SYMBOL = "kEdgemnistTensorArenaSize"
HEADER_NAME = "model_data.h"
#: The symbol both files state, so a model_data.h from another export fails to compile (static_assert).
MODEL_ID_SYMBOL = "kEdgemnistModelId"
#: A header larger than this is not ours (ours is ~2 KB); it is ignored, not read.
MAX_HEADER_BYTES = 1 << 16
#: The arena (and the model array) are declared ``alignas(ARENA_ALIGNMENT)``; TFLM aligns tensor buffers to 16.
ARENA_ALIGNMENT = 16
#: Bisection bounds: the first upper bound tried, and the largest arena considered at all.
FIRST_ARENA_GUESS = 64 << 10
MAX_ARENA_BYTES = 64 << 20
PROBE_TIMEOUT_S = 120
BYTES_PER_LINE = 12
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


def _tflm():
    from edgemnist._deps import require

    return require("tflite_micro", "micro", what="tflite-micro").runtime


# --------------------------------------------------------------------------------------------- arena


def round_up(n: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return -(-int(n) // alignment) * alignment


def _probe(model_bytes: bytes, arena_size: int, *, report: bool = False) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-I", "-c", _PROBE, str(int(arena_size))] + (["--report"] if report else [])
    try:
        return subprocess.run(argv, input=model_bytes, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"TFLM did not finish one inference within {PROBE_TIMEOUT_S} s "
                            f"(arena {arena_size} bytes)") from None


def arena_fits(model_bytes: bytes, arena_size: int) -> bool:
    """Does the model allocate and run one inference in TFLM with ``arena_size`` bytes of arena?

    Runs in a child process, so an arena that crashes TFLM answers False instead of killing this one.
    """
    return arena_size > 0 and _probe(model_bytes, arena_size).returncode == 0


def recorded_arena_bytes(model_bytes: bytes, arena_size: int) -> int | None:
    """What TFLM's own RecordingMicroAllocator reports ("Arena allocation total") at ``arena_size``.

    For information only: it leaves out the interpreter's own bookkeeping and understates what
    ``AllocateTensors`` needs (by about 3 KB for this model), so an arena sized from it fails.
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
            self._proc = subprocess.Popen([sys.executable, "-I", "-c", _WORKER, str(self._model)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True)
        try:
            self._proc.stdin.write(f"{int(arena_size)}\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([self._proc.stdout], [], [], PROBE_TIMEOUT_S)
        if not ready:
            self._proc.kill()
            raise ArtifactError(f"TFLM did not finish one inference within {PROBE_TIMEOUT_S} s "
                                f"(arena {arena_size} bytes)")
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
    _tflm()  # fail early, in this process, if tflite-micro is missing
    prober = _Prober(model_bytes)
    try:
        hi = FIRST_ARENA_GUESS
        if not prober.fits(hi) and not prober.fits(MAX_ARENA_BYTES):  # a broken model: no doubling
            proc = _probe(model_bytes, MAX_ARENA_BYTES)
            reason = proc.stderr.decode(errors="replace").strip().splitlines()
            why = reason[-1][:300] if reason and proc.returncode > 0 else (
                f"TFLM crashed (signal {-proc.returncode})" if proc.returncode < 0 else "no message")
            raise ArtifactError(f"the model does not run in TFLite Micro even with a {MAX_ARENA_BYTES}-byte arena"
                                f" ({why})")
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
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        why = (f"TFLM crashed (signal {-proc.returncode})" if proc.returncode < 0
               else lines[-1][:300] if lines else f"exit {proc.returncode}")
        raise ArtifactError(f"TFLite Micro cannot run the model with a {arena_size}-byte arena ({why})")
    with _PROVEN_LOCK:
        _PROVEN.add(key)


# ------------------------------------------------------------------------------------------- C files


@dataclass(frozen=True)
class Quant:
    scale: float
    zero_point: int


@dataclass(frozen=True)
class MicroModel:
    """What a ``model_data.cc`` / ``model_data.h`` pair holds."""

    cc_path: Path
    header_path: Path
    model_bytes: bytes = field(repr=False)
    arena_bytes: int  # 0 when no trusted header states it
    arena_min_bytes: int
    arena_alignment: int
    input: Quant
    output: Quant

    @property
    def flash_bytes(self) -> int:
        return len(self.model_bytes)

    @property
    def tflite_sha256(self) -> str:
        return sha256_bytes(self.model_bytes)


def _c_float(x: float) -> str:
    return f"{float(np.float32(x)):.9g}f"


def render_header(*, model_bytes: bytes, arena_bytes: int, arena_min_bytes: int, input: Quant, output: Quant,
                  source: str | None, source_sha256: str | None) -> str:
    from edgemnist import __version__

    src = f"{source or 'the Keras model'}, sha256 {source_sha256 or 'unknown'}"
    return f"""\
// Generated by edgemnist {__version__}: the MNIST MLP for TensorFlow Lite Micro. Do not edit.
//
// source:  {src}
// model:   full-integer int8 TFLite flatbuffer, {len(model_bytes)} bytes (flash), sha256 {sha256_bytes(model_bytes)}
// input:   int8 [1, {spec.INPUT_SIZE}], scale {float(input.scale):.9g}, zero point {input.zero_point}:
//          q = round(p / 255 / scale) + zero point; for a uint8 pixel p that is q = p - 128
// output:  int8 [1, {spec.NUM_CLASSES}], scale {float(output.scale):.9g}, zero point {output.zero_point}:
//          probability = (q - zero point) * scale; the predicted digit is the argmax
// arena:   {arena_bytes} bytes = {arena_min_bytes} (the smallest arena that allocated and ran in
//          {MEASURED_WITH}) rounded up to {ARENA_ALIGNMENT}.
//          Declare it alignas({ARENA_ALIGNMENT}). Optimized kernels (e.g. CMSIS-NN) may need more: check
//          interpreter.arena_used_bytes() on the board.
#ifndef EDGEMNIST_MODEL_DATA_H_
#define EDGEMNIST_MODEL_DATA_H_

#include <cstddef>
#include <cstdint>

constexpr std::size_t {ARENA_SYMBOL} = {arena_bytes};
constexpr std::size_t kEdgemnistTensorArenaAlignment = {ARENA_ALIGNMENT};
constexpr int kEdgemnistInputSize = {spec.INPUT_SIZE};
constexpr int kEdgemnistNumClasses = {spec.NUM_CLASSES};
constexpr float kEdgemnistInputScale = {_c_float(input.scale)};
constexpr int kEdgemnistInputZeroPoint = {int(input.zero_point)};
constexpr float kEdgemnistOutputScale = {_c_float(output.scale)};
constexpr int kEdgemnistOutputZeroPoint = {int(output.zero_point)};
// The model this header was generated for; model_data.cc checks it, so a header and an array from two
// different exports do not compile together.
constexpr unsigned long long {MODEL_ID_SYMBOL} = {model_id(model_bytes)};

// The TFLite flatbuffer; pass it to tflite::GetModel().
extern const unsigned char {ARRAY_SYMBOL}[];
extern const unsigned int {LENGTH_SYMBOL};

#endif  // EDGEMNIST_MODEL_DATA_H_
"""


def render_source(model_bytes: bytes, *, source_sha256: str | None) -> str:
    hexed = [f"0x{b:02x}" for b in model_bytes]
    lines = ("  " + ", ".join(hexed[i:i + BYTES_PER_LINE]) + "," for i in range(0, len(hexed), BYTES_PER_LINE))
    return (
        f"// Generated by edgemnist: the int8 MNIST MLP as a TFLite flatbuffer. Do not edit.\n"
        f"// source sha256: {source_sha256 or 'unknown'}\n"
        f"// model sha256:  {sha256_bytes(model_bytes)} ({len(model_bytes)} bytes)\n"
        f"// Constants (tensor arena size, input/output scale and zero point) are in {HEADER_NAME}.\n"
        f'#include "{HEADER_NAME}"\n\n'
        f"static_assert({MODEL_ID_SYMBOL} == {model_id(model_bytes)},\n"
        f'              "{HEADER_NAME} was generated for another model; re-export both files together");\n\n'
        f"alignas({ARENA_ALIGNMENT}) const unsigned char {ARRAY_SYMBOL}[] = {{\n"
        + "\n".join(lines)
        + f"\n}};\nconst unsigned int {LENGTH_SYMBOL} = {len(model_bytes)};\n"
    )


def parse_c_array(text: str, symbol: str = ARRAY_SYMBOL) -> bytes:
    """The bytes of the array in ``model_data.cc`` text, parsed strictly (``edgemnist.carray``)."""
    from edgemnist.carray import parse_text

    if symbol != ARRAY_SYMBOL:
        raise ConfigError(f"only '{ARRAY_SYMBOL}' arrays are read")
    return parse_text(text)


def companions(cc_path: str | Path) -> list[Path]:
    """Files that travel with the array: its header, ``<stem>.h`` (model_data.cc -> model_data.h). The export
    stages it beside the temporary .cc and lands it only with a passing .cc (``edgemnist.export``)."""
    return [Path(cc_path).with_suffix(".h")]


def header_path(cc_path: str | Path) -> Path:
    """The header of ``cc_path``: ``<stem>.h``, else a ``model_data.h`` beside it (a renamed copy)."""
    cc_path = Path(cc_path)
    own = companions(cc_path)[0]
    return own if own.is_file() else cc_path.with_name(HEADER_NAME)


def model_id(model_bytes: bytes) -> str:
    """The first 64 bits of the model's sha256, as a C++ literal both generated files state."""
    return f"0x{sha256_bytes(model_bytes)[:16]}ULL"


def read_micro(cc_path: str | Path) -> MicroModel:
    """Read a model_data.cc back, with the constants of the model_data.h beside it.

    Both are parsed strictly and with bounded memory (``edgemnist.carray``); the array must have the
    structure of a TFLite model of this network (``edgemnist.flatbuffer.check_tflite``). The header is only
    trusted when it was written for exactly these bytes with every constant in its one spelling: a stale,
    foreign or damaged header gives ``arena_bytes`` 0 and NaN scales (the caller then measures the arena).
    """
    from edgemnist import carray

    cc_path = Path(cc_path)
    model_bytes = carray.read_array(cc_path)
    check_tflite(model_bytes, f"{cc_path}: the array")
    h_path = header_path(cc_path)
    header, _why = carray.read_header(h_path, model_bytes)
    if header is None:
        nan = float("nan")
        return MicroModel(cc_path, h_path, model_bytes, arena_bytes=0, arena_min_bytes=0,
                          arena_alignment=ARENA_ALIGNMENT, input=Quant(nan, 0), output=Quant(nan, 0))
    return MicroModel(cc_path, h_path, model_bytes, arena_bytes=header.arena_bytes,
                      arena_min_bytes=header.arena_min_bytes, arena_alignment=header.arena_alignment,
                      input=Quant(header.input_scale, header.input_zero_point),
                      output=Quant(header.output_scale, header.output_zero_point))


# --------------------------------------------------------------------------------------------- TFLM


class MicroRunner:
    """The TFLM interpreter on one model and a verified arena; ``run`` loops over images, thread-safe."""

    def __init__(self, model_bytes: bytes, arena_bytes: int) -> None:
        runtime = _tflm()
        try:
            self._ip = runtime.Interpreter.from_bytes(model_bytes, arena_size=int(arena_bytes))
            self.input_details = self._ip.get_input_details(0)
            self.output_details = self._ip.get_output_details(0)
        except Exception as exc:  # the wrapper parses the flatbuffer in Python: struct.error, TypeError, ...
            raise ArtifactError(f"TFLite Micro cannot load the model with a {arena_bytes}-byte arena "
                                f"({type(exc).__name__}: {str(exc)[:300]})") from None
        self.arena_bytes = int(arena_bytes)
        self._lock = threading.Lock()

    @staticmethod
    def quant(details: dict) -> Quant:
        q = details["quantization_parameters"]
        return Quant(float(q["scales"][0]), int(q["zero_points"][0]))

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, 784) int8 -> new (N, 10) int8, one invoke per image (the TFLM model has batch 1)."""
        out = np.empty((len(x), int(self.output_details["shape"][-1])), self.output_details["dtype"])
        with self._lock:
            set_input, invoke, get_output = self._ip.set_input, self._ip.invoke, self._ip.get_output
            for i in range(len(x)):
                set_input(x[i:i + 1], 0)
                invoke()
                out[i] = get_output(0)[0]
        return out


def quantize_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 MNIST images (N, 28, 28) -> the model's int8 input (N, 784): q = p - 128 (scale 1/255, zp -128)."""
    return (images.reshape(len(images), spec.INPUT_SIZE).astype(np.int16) - 128).astype(np.int8)


def _litert_outputs(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    from edgemnist._deps import require

    litert = require("ai_edge_litert.interpreter", "litert", what="ai-edge-litert")
    it = litert.Interpreter(model_content=model_bytes, num_threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], [len(x), spec.INPUT_SIZE])
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(out["index"])


def verify_micro(cc_path: str | Path, images: np.ndarray, labels: np.ndarray, *,
                 compare_litert: bool = True) -> dict[str, Any]:
    """Run the array in TFLM at its stated arena on ``images`` (uint8 MNIST) and measure what it gets.

    Returns accuracy, ms per image (one invoke per image, reference kernels), and, with ``compare_litert``,
    agreement with LiteRT on the same int8 bytes: argmax agreement, the share of images whose 10 int8
    outputs are bit-identical, and the largest difference in int8 steps.
    """
    micro = read_micro(cc_path)
    if micro.arena_bytes <= 0:
        raise ArtifactError(f"{micro.header_path}: no {ARENA_SYMBOL}; re-export the micro artifact")
    x = quantize_pixels(images)
    ensure_runs(micro.model_bytes, micro.arena_bytes)  # a header's arena is run in a child first
    runner = MicroRunner(micro.model_bytes, micro.arena_bytes)
    start = time.perf_counter()
    q = runner.run(x)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "runtime": "TFLite Micro",
        "n": int(len(x)),
        "accuracy": float(np.mean(q.argmax(1) == labels)),
        "ms_per_image": round(1e3 * seconds / max(len(x), 1), 4),
        "arena_bytes": micro.arena_bytes,
    }
    if compare_litert:
        ref = _litert_outputs(micro.model_bytes, x)
        diff = np.abs(q.astype(np.int16) - ref.astype(np.int16))
        result["litert"] = {
            "agreement": float(np.mean(q.argmax(1) == ref.argmax(1))),
            "identical_outputs": float(np.mean(diff.max(axis=1) == 0)),
            "max_abs_diff_int8_steps": int(diff.max()),
            "max_abs_diff": float(diff.max() * micro.output.scale),
        }
    return result


# ------------------------------------------------------------------------------------------- export


#: TFLM and LiteRT run the same int8 bytes; their top-1 answers must agree on at least this share of images.
MIN_LITERT_AGREEMENT = 0.995


def describe(cc_path: str | Path) -> dict[str, Any]:
    """Manifest facts of a micro artifact: I/O tensors and the ``micro`` section (arena, flash, header...)."""
    from edgemnist.manifest import tensor_info

    micro = read_micro(cc_path)
    header = micro.header_path
    return {
        "input": tensor_info(spec.INPUT_NAME, (1, spec.INPUT_SIZE), "int8", micro.input.scale, micro.input.zero_point),
        "output": tensor_info(spec.OUTPUT_NAME, (1, spec.NUM_CLASSES), "int8",
                              micro.output.scale, micro.output.zero_point),
        "micro": {
            "arena_bytes": micro.arena_bytes,
            "arena_min_bytes": micro.arena_min_bytes,
            "arena_alignment": micro.arena_alignment,
            "arena_measured_with": MEASURED_WITH,
            "flash_bytes": micro.flash_bytes,
            "tflite_sha256": micro.tflite_sha256,
            # Landed as model_data.h whatever the (temporary) name it was read under.
            "header": {"file": HEADER_NAME, "sha256": sha256_file(header)} if micro.arena_bytes else None,
            "symbols": {"array": ARRAY_SYMBOL, "length": LENGTH_SYMBOL, "arena": ARENA_SYMBOL},
        },
    }


def check(facts: dict[str, Any], mode: str, io: str) -> list[str]:
    """Every way a micro artifact differs from what it claims (int8, int8 I/O, a header with its arena)."""
    problems = []
    if mode != "int8" or io != "int8":
        problems.append(f"micro is int8 with int8 I/O only, not {mode} / {io}")
    for key in ("input", "output"):
        if facts[key]["dtype"] != "int8":
            problems.append(f"{key} is {facts[key]['dtype']}, expected int8")
    if not facts["micro"]["arena_bytes"]:
        problems.append(f"no {HEADER_NAME} for this array beside it (or it states another model's sha256)")
    return problems


def measure(cc_path: str | Path, images: np.ndarray, labels: np.ndarray) -> tuple[dict[str, Any], list[str]]:
    """The export gate's micro-specific part: ``verify_micro`` on the test set, and its failures."""
    result = verify_micro(cc_path, images, labels)
    problems = []
    agreement = result["litert"]["agreement"]
    if agreement < MIN_LITERT_AGREEMENT:
        problems.append(f"TFLM and LiteRT agree on only {agreement:.2%} of top-1 answers "
                        f"(< {MIN_LITERT_AGREEMENT:.1%}) on the same int8 model")
    return {"tflm": result}, problems


def summary(manifest: dict[str, Any]) -> str | None:
    """One line for ``edgemnist export``: what the device needs and what TFLM measured."""
    facts = manifest.get("micro")
    if not facts:
        return None
    line = (f"  TFLite Micro: arena {facts['arena_bytes']} B (smallest that runs: {facts['arena_min_bytes']} B, "
            f"rounded up to {facts['arena_alignment']}), flash {facts['flash_bytes']} B")
    tflm = facts.get("tflm")
    if tflm:
        line += (f"; TFLM accuracy {tflm['accuracy']:.2%} on {tflm['n']} images, "
                 f"top-1 agreement with LiteRT {tflm['litert']['agreement']:.2%}, {tflm['ms_per_image']:.2f} ms/image")
    return line


def export_micro(model, out_path: str | Path, config, calibration=None, *, source: str | Path | None = None) -> Path:
    """Write ``out_path`` (model_data.cc) and its header beside it (``companions``: model_data.h); return the
    .cc path.

    ``model`` and ``calibration`` go to ``export_tflite`` (int8, int8 I/O); ``source`` (the .keras file)
    only names the source and its sha256 in the generated comments.
    """
    from edgemnist.export.tflite import export_tflite

    out_path = Path(out_path)
    if out_path.suffix != ".cc":
        raise ConfigError(f"{out_path}: a TFLite Micro artifact is a C++ source file ending in .cc")
    if getattr(config, "mode", "int8") != "int8" or getattr(config, "io", "int8") not in (None, "int8"):
        raise ConfigError(f"micro is int8 with int8 I/O only, got {config.mode} / {config.io}")
    if calibration is None:
        raise ConfigError("micro int8 needs calibration images (a representative dataset)")
    tflite_config = dataclasses.replace(config, format="tflite", mode="int8", io="int8")
    with tempfile.TemporaryDirectory(prefix="edgemnist-micro-") as tmp:
        model_bytes = export_tflite(model, Path(tmp) / "model.int8.tflite", tflite_config, calibration).read_bytes()

    arena_min = min_arena_bytes(model_bytes)
    arena = round_up(arena_min)
    ensure_runs(model_bytes, arena)  # in a child first: only then in this process
    runner = MicroRunner(model_bytes, arena)
    source_path = Path(source) if source is not None else None
    source_sha = sha256_file(source_path) if source_path is not None and source_path.is_file() else None
    header = render_header(model_bytes=model_bytes, arena_bytes=arena, arena_min_bytes=arena_min,
                           input=runner.quant(runner.input_details), output=runner.quant(runner.output_details),
                           source=source_path.name if source_path else None, source_sha256=source_sha)
    # The header goes beside out_path as <stem>.h: during an export out_path is a hidden temporary, and
    # edgemnist.export lands the header (``companions``) only together with a .cc that passed verification.
    atomic_write_text(companions(out_path)[0], header)
    atomic_write_text(out_path, render_source(model_bytes, source_sha256=source_sha))
    return out_path
