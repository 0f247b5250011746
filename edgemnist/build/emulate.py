"""The generated C on an emulated microcontroller: a firmware target's build (:mod:`edgemnist.build.compile`)
run under its emulator with semihosting.

The harness (``harness/main.c``) streams images from a host file through ``edgemnist_predict`` and writes the
scores, the digit and the timer ticks of each call back (``main.c`` documents the records); the board folder
(``boards/<board>/``) holds the start-up code and the link script. What is measured, and how:

- **instructions per inference**, as the row's ``counting`` says, from the board's counter (``board.h``:
  ``board_counter_read``). ``"systick-icount"`` / ``"timer-icount"``: QEMU runs with ``-icount shift=0`` (one
  instruction = 1 ns of virtual time) and SysTick (or the board's timer) counts the ``cpu_hz`` clock, so one tick
  is 1e9 / cpu_hz instructions (40 at 25 MHz): deterministic, to within one tick per call. ``"instret"``: the
  core's retired-instruction counter (RISC-V ``minstret``, which QEMU -icount keeps exact): one instruction per
  tick. Reported as ticks x instructions per tick, the timer-read overhead subtracted; a calibration loop of
  known length checks the rate on every run;
- **peak stack**: ``.stack`` is painted at reset; after the run the firmware reports the deepest word that lost
  its paint;
- **flash and RAM**: from the linked ELF (the row's ``size_tool -A``): flash = every allocated section but the
  RAM-only ones (``.bss``, ``.stack``, ...), so ``.data`` counts as its load image; RAM = data + bss + peak stack.
  Model constants are the kernel object's ``em_*`` arrays (the row's ``nm_tool -S``); code is everything else in
  flash, split into the kernel's (with the compiler-runtime functions it calls, the row's ``runtime_calls``) and
  the harness's. Both must fit the row's ``flash_bytes`` and ``ram_bytes`` (else DoesNotFitError; a firmware too
  large for the link script's memory fails its link the same way).

``run(target, c_path, pixels, path)`` -> :class:`FirmwareRun`.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgemnist.build import compile as _compile
from edgemnist.build.compile import run_tool, tool_version
from edgemnist.build.targets import Target, get
from edgemnist.errors import BuildError, ConfigError, DoesNotFitError

RECORD = 16
SUMMARY_MAGIC = 0x31534D45
#: Emulator seconds per image, generously (the portable path is ~1.2 M instructions; QEMU TCG runs ~100+ M/s).
SECONDS_PER_IMAGE = 0.2
CALIBRATION_LOOPS = 100_000  # main.c: a 2-instruction loop timed once, to check the instructions per tick
MODEL_SYMBOLS = ("em_w1", "em_b1", "em_m1", "em_s1", "em_w2", "em_b2", "em_m2", "em_s2")
#: Sections that take no flash: zero-filled or reserved in RAM at run time.
RAM_ONLY = (".bss", ".sbss", ".stack", ".heap", ".noinit", ".tbss")
#: Sections that are not loaded at all.
NOT_LOADED = (".comment", ".debug", ".ARM.attributes", ".riscv.attributes", ".note", ".stab", ".symtab", ".strtab")
DATA = (".data", ".sdata", ".tdata")


@dataclass
class FirmwareRun:
    target: str
    path: str
    scores: np.ndarray = field(repr=False)
    digits: np.ndarray = field(repr=False)
    ticks: np.ndarray = field(repr=False)
    images: int
    instructions_per_inference: float
    instructions_min: int
    instructions_max: int
    stack_peak_bytes: int
    kernel_stack_bytes: int
    instructions_per_tick_measured: float
    sizes: dict
    opt: str
    toolchain: dict

    def figures(self) -> dict:
        d = asdict(self)
        for k in ("scores", "digits", "ticks"):
            d.pop(k)
        return d


def instructions_per_tick(target: Target) -> float:
    """How many instructions one timer tick is on ``target`` (see the module doc); ConfigError when the row does
    not count instructions."""
    if target.counting in ("systick-icount", "timer-icount") and target.cpu_hz:
        return 1e9 / target.cpu_hz
    if target.counting == "instret":
        return 1.0
    raise ConfigError(f"target {target.name} does not count instructions (counting {target.counting!r})")


def _firmware(target: Target | str) -> Target:
    target = get(target) if isinstance(target, str) else target
    if target.kind != "firmware" or target.emulator is None:
        raise ConfigError(f"target {target.name} is not a firmware run under an emulator")
    return target


def toolchain(target: Target | str, opt: str | None = None) -> dict:
    """The compiler and emulator versions and the flags of a firmware build."""
    target = _firmware(target)
    gcc, emu = target.compiler.find(), target.emulator.binary.find()
    return {
        "gcc": tool_version(gcc) if gcc else "unknown",
        "qemu": tool_version(emu) if emu else "unknown",
        "flags": " ".join((*target.arch, opt or target.opt, "-std=c99"))
        + (", newlib-nano specs" if "--specs=nano.specs" in target.ldflags else "")
        + ", no libc calls",
    }


def board(target: Target | str) -> str:
    """How the row's board is run, for reports: ``QEMU mps2-an386``."""
    target = _firmware(target)
    return f"QEMU {target.emulator.machine}"


def _sections(target: Target, elf: Path) -> dict[str, int]:
    size = target.size_tool.require(f"measuring a {target.name} firmware")
    out = run_tool([size, "-A", str(elf)], f"{target.size_tool.command} on {elf.name}")
    sizes = {}
    for line in out.splitlines():
        m = re.match(r"^(\.\S+)\s+(\d+)\s+(\d+)", line)
        if m:
            sizes[m.group(1)] = int(m.group(2))
    return sizes


def _symbol_sizes(target: Target, obj: Path) -> dict[str, int]:
    nm = target.nm_tool.require(f"measuring a {target.name} firmware")
    out = run_tool([nm, "-S", str(obj)], f"{target.nm_tool.command} on {obj.name}")
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or name.startswith(p + "_") for p in prefixes)


def sizes(target: Target | str, elf: Path, kernel_object: Path, stack_peak: int) -> dict:
    """Flash/RAM split of the linked firmware (see the module doc)."""
    target = _firmware(target)
    s = {k: v for k, v in _sections(target, elf).items() if not _is(k, NOT_LOADED)}
    obj = _sections(target, kernel_object)
    syms = _symbol_sizes(target, kernel_object)
    model_consts = sum(syms.get(n, 0) for n in MODEL_SYMBOLS)
    flash = sum(v for k, v in s.items() if not _is(k, RAM_ONLY))
    data = sum(v for k, v in s.items() if _is(k, DATA))
    bss = sum(v for k, v in s.items() if _is(k, (".bss", ".sbss", ".tbss", ".noinit")))
    runtime = _symbol_sizes(target, elf) if target.runtime_calls else {}
    kernel_text = obj.get(".text", 0) + sum(runtime.get(n, 0) for n in target.runtime_calls)
    kernel_rodata = sum(v for k, v in obj.items() if _is(k, (".rodata", ".srodata")))
    return {
        "flash_bytes": flash,
        "text_bytes": flash - data,
        "data_bytes": data,
        "bss_bytes": bss,
        "model_constants_bytes": model_consts,
        "kernel_code_bytes": kernel_text + kernel_rodata - model_consts,
        "harness_code_bytes": flash - kernel_text - kernel_rodata,
        "code_bytes": flash - model_consts,
        "kernel_bss_bytes": sum(v for k, v in obj.items() if _is(k, (".bss", ".sbss"))),
        "stack_peak_bytes": stack_peak,
        "ram_bytes": data + bss + stack_peak,
        "sections": s,
    }


def run(
    target: Target | str,
    c_path: str | Path,
    pixels: np.ndarray,
    path: str | None = None,
    *,
    opt: str | None = None,
    timeout_s: float | None = None,
) -> FirmwareRun:
    """Build the firmware of ``target`` for compute path ``path`` and run ``pixels`` ((N, inputs) uint8, the
    kernel's input size) through it under the row's emulator (see the module doc)."""
    target = _firmware(target)
    per_tick = instructions_per_tick(target)
    x = np.ascontiguousarray(pixels, np.uint8)
    x = x.reshape(len(x), -1)
    built = _compile.build(target, c_path, path=path, opt=opt)
    cmd = target.emulator.command(str(built.file))
    with tempfile.TemporaryDirectory(prefix="edgemnist-firmware-") as tmp:
        tmp = Path(tmp)
        (tmp / "images.bin").write_bytes(x.tobytes())
        limit = timeout_s or 60 + SECONDS_PER_IMAGE * len(x)
        run_tool(
            cmd,
            f"the {target.name} firmware under {target.emulator.binary.command} ({len(x)} images)",
            cwd=tmp,
            timeout=limit,
            env={**os.environ, "QEMU_AUDIO_DRV": "none"},
        )
        try:
            raw = (tmp / "results.bin").read_bytes()
            summary = (tmp / "summary.bin").read_bytes()
        except OSError:
            raise BuildError(f"the {target.name} firmware wrote no results under {target.emulator.machine}") from None
    if len(summary) < 28:
        raise BuildError(f"the {target.name} firmware wrote a short summary ({len(summary)} bytes)")
    magic, n, peak, main_depth, overhead, _csr, calibration = struct.unpack("<7I", summary[:28])
    if magic != SUMMARY_MAGIC or n != len(x) or len(raw) != RECORD * n:
        raise BuildError(f"the firmware reported {n} images for {len(x)} sent ({len(raw)} result bytes)")
    # The calibration loop runs 2 x CALIBRATION_LOOPS instructions (+ one timer read) between two reads.
    measured_rate = 2 * CALIBRATION_LOOPS / max(calibration - overhead, 1)
    if abs(measured_rate - per_tick) > 0.01 * per_tick:
        raise BuildError(
            f"the timer counts {measured_rate:.2f} instructions per tick under {target.emulator.binary.command}, "
            f"not {per_tick:g}: instruction counts would be wrong (is -icount shift=0 honoured?)"
        )
    n_out = RECORD - 6
    rec = np.frombuffer(raw, np.uint8).reshape(n, RECORD)
    scores = rec[:, :n_out].view(np.int8).copy()
    digits = rec[:, n_out].astype(np.int64)
    ticks = rec[:, 12:16].copy().view("<u4").reshape(-1).astype(np.int64) - overhead
    instr = ticks * per_tick
    figures = sizes(target, built.file, built.kernel_object, int(peak))
    budgets = (("flash", figures["flash_bytes"], target.flash_bytes), ("RAM", figures["ram_bytes"], target.ram_bytes))
    over = {what: used - budget for what, used, budget in budgets if budget is not None and used > budget}
    if over:
        lacking = ", ".join(f"{what} by {count:,} B" for what, count in over.items())
        raise DoesNotFitError(f"the {target.name} firmware does not fit the board's memory ({lacking})", over)
    return FirmwareRun(
        target=target.name,
        path=built.path_name,
        scores=scores,
        digits=digits,
        ticks=ticks,
        images=int(n),
        instructions_per_inference=float(instr.mean()) if n else 0.0,
        instructions_min=int(instr.min()) if n else 0,
        instructions_max=int(instr.max()) if n else 0,
        stack_peak_bytes=int(peak),
        kernel_stack_bytes=int(peak - main_depth),
        instructions_per_tick_measured=round(measured_rate, 4),
        sizes=figures,
        opt=built.opt,
        toolchain=toolchain(target, built.opt),
    )
