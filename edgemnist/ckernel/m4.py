"""The generated C on an emulated Cortex-M4: a bare-metal firmware built with ``arm-none-eabi-gcc`` and run under
``qemu-system-arm -M mps2-an386`` with semihosting.

The firmware (``firmware/``: linker script, start-up code, ``main.c``; the project's own, no vendor files) streams
images from a host file through ``edgemnist_predict`` and writes the scores, the digit and the SysTick ticks of each
call back (``main.c`` documents the records). What is measured, and how:

- **instructions per inference**: QEMU runs with ``-icount shift=0`` (one instruction = 1 ns of virtual time) and
  SysTick counts the 25 MHz CPU clock, so one tick is 40 instructions: deterministic, to within one tick per call
  (QEMU does not emulate DWT CYCCNT on this board). Reported as ticks x 40, the timer-read overhead subtracted;
- **peak stack**: ``.stack`` is painted at reset; after the run the firmware reports the deepest word that lost
  its paint;
- **flash and RAM**: from the linked ELF (``arm-none-eabi-size -A``): flash = vectors + .text + .rodata + .data
  (its load image); RAM = .data + .bss + peak stack. Model constants are the kernel object's ``em_*`` arrays
  (``arm-none-eabi-nm -S``); code is everything else in flash, split into the kernel's and the test harness's.

``run(c_path, pixels, path="dsp"|"portable")`` -> :class:`M4Run`.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from edgemnist.ckernel import host
from edgemnist.ckernel.host import WARNINGS
from edgemnist.ckernel.layout import SOURCE_NAME
from edgemnist.errors import ArtifactError, MissingDependencyError

GCC, SIZE, NM, QEMU = "arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm"
MACHINE = "mps2-an386"
CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb")
OPT = "-O2"
PATHS = {"dsp": (), "portable": ("-DEDGEMNIST_PORTABLE",)}
PATH_NAMES = {"dsp": "cortex-m-dsp", "portable": "portable"}
INSTRUCTIONS_PER_TICK = 40  # -icount shift=0: 1 ns per instruction; SysTick at the board's 25 MHz: 40 ns per tick
RECORD = 16
SUMMARY_MAGIC = 0x31534D45
#: QEMU seconds per image, generously (the reference path is ~2.5 M instructions; QEMU TCG runs ~100+ M/s).
SECONDS_PER_IMAGE = 0.05
CALIBRATION_LOOPS = 100_000  # main.c: a 2-instruction loop timed once, to check INSTRUCTIONS_PER_TICK
MODEL_SYMBOLS = ("em_w1", "em_b1", "em_m1", "em_s1", "em_w2", "em_b2", "em_m2", "em_s2")


@dataclass
class M4Run:
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


def require() -> None:
    missing = [t for t in (GCC, SIZE, NM, QEMU) if shutil.which(t) is None]
    if missing:
        raise MissingDependencyError(
            f"the Cortex-M4 run needs {', '.join(missing)} (Debian: apt-get install "
            f"gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
        )


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0].strip() if out else "unknown"


def toolchain(opt: str = OPT) -> dict:
    return {
        "gcc": _first_line([GCC, "--version"]),
        "qemu": _first_line([QEMU, "--version"]),
        "flags": " ".join(CPU_FLAGS + (opt,)) + " -std=c99, newlib-nano specs, no libc calls",
    }


def _check(cmd: list[str], what: str, cwd: Path | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=host.compiler_env())
    if proc.returncode != 0:
        raise ArtifactError(f"{what} failed ({(proc.stderr or proc.stdout).strip()[:800]})")
    return proc.stdout


def build(c_path: str | Path, out_dir: str | Path, path: str = "dsp", opt: str = OPT) -> Path:
    """Compile the kernel and the firmware into ``out_dir/firmware-<path>.elf``."""
    require()
    if path not in PATHS:
        raise ArtifactError(f"unknown Cortex-M4 path {path!r}; expected one of {sorted(PATHS)}")
    c_path, out_dir = Path(c_path), Path(out_dir)
    fw = resources.files("edgemnist.ckernel").joinpath("firmware")
    # The pair is proven to be edgemnist's generated kernel, then compiled from a private copy (host.private_pair):
    # nothing beside the artifact (a stdint.h, another header) is on the include path.
    with resources.as_file(fw) as fw_dir, host.private_pair(c_path) as (kernel_dir, _, _):
        fw_dir = Path(fw_dir)
        common = [GCC, *CPU_FLAGS, opt, *WARNINGS, "-ffreestanding", "-I", str(kernel_dir), "-I", str(fw_dir)]
        model_o = out_dir / f"edgemnist_model-{path}.o"
        _check(
            [*common, *PATHS[path], "-c", str(kernel_dir / SOURCE_NAME), "-o", str(model_o)],
            f"{GCC} on {c_path.name}",
            cwd=kernel_dir,
        )
        objs = [model_o]
        for name in ("startup.c", "main.c"):
            o = out_dir / f"{name[:-2]}-{path}.o"
            _check([*common, "-c", str(fw_dir / name), "-o", str(o)], f"{GCC} on firmware/{name}")
            objs.append(o)
        elf = out_dir / f"firmware-{path}.elf"
        _check(
            [
                GCC,
                *CPU_FLAGS,
                opt,
                "-nostartfiles",
                "--specs=nano.specs",
                "-T",
                str(fw_dir / "mps2_an386.ld"),
                "-Wl,--gc-sections",
                "-o",
                str(elf),
                *map(str, objs),
                "-lgcc",
            ],
            f"linking {elf.name}",
        )
    undefined = _check([NM, "-u", str(model_o)], "nm").split()
    if undefined:
        raise ArtifactError(
            f"{c_path.name} calls outside itself on Cortex-M4: {' '.join(undefined[1::2] or undefined)}"
        )
    return elf


def _sections(elf: Path) -> dict[str, int]:
    out = _check([SIZE, "-A", str(elf)], SIZE)
    sizes = {}
    for line in out.splitlines():
        m = re.match(r"^(\.\S+)\s+(\d+)\s+(\d+)", line)
        if m:
            sizes[m.group(1)] = int(m.group(2))
    return sizes


def _symbol_sizes(obj: Path) -> dict[str, int]:
    out = _check([NM, "-S", str(obj)], NM)
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def sizes(elf: Path, model_o: Path, stack_peak: int) -> dict:
    """Flash/RAM split of the linked firmware (see the module doc)."""
    s = _sections(elf)
    obj = _sections(model_o)
    syms = _symbol_sizes(model_o)
    model_consts = sum(syms.get(n, 0) for n in MODEL_SYMBOLS)
    flash = (
        s.get(".isr_vector", 0) + s.get(".text", 0) + s.get(".rodata", 0) + s.get(".data", 0) + s.get(".ARM.exidx", 0)
    )
    kernel_text = obj.get(".text", 0)
    kernel_rodata = obj.get(".rodata", 0)
    ram_static = s.get(".data", 0) + s.get(".bss", 0)
    return {
        "flash_bytes": flash,
        "text_bytes": s.get(".isr_vector", 0) + s.get(".text", 0) + s.get(".rodata", 0) + s.get(".ARM.exidx", 0),
        "data_bytes": s.get(".data", 0),
        "bss_bytes": s.get(".bss", 0),
        "model_constants_bytes": model_consts,
        "kernel_code_bytes": kernel_text + kernel_rodata - model_consts,
        "harness_code_bytes": flash - kernel_text - kernel_rodata,
        "code_bytes": flash - model_consts,
        "kernel_bss_bytes": obj.get(".bss", 0),
        "stack_peak_bytes": stack_peak,
        "ram_bytes": ram_static + stack_peak,
        "sections": s,
    }


def run(
    c_path: str | Path, pixels: np.ndarray, path: str = "dsp", *, opt: str = OPT, timeout_s: float | None = None
) -> M4Run:
    """Build the firmware for ``path`` and run ``pixels`` ((N, 784) uint8; (N, inputs) for another generated
    model) through it under QEMU."""
    x = np.ascontiguousarray(pixels, np.uint8)
    x = x.reshape(len(x), -1)
    with tempfile.TemporaryDirectory(prefix="edgemnist-m4-") as tmp:
        tmp = Path(tmp)
        elf = build(c_path, tmp, path, opt)
        (tmp / "images.bin").write_bytes(x.tobytes())
        cmd = [
            QEMU,
            "-M",
            MACHINE,
            "-icount",
            "shift=0",
            "-semihosting-config",
            "enable=on,target=native",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-kernel",
            str(elf),
        ]
        limit = timeout_s or 60 + SECONDS_PER_IMAGE * len(x) * (4 if path == "portable" else 1)
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=limit,
                cwd=tmp,
                env={**os.environ, "QEMU_AUDIO_DRV": "none"},
            )
        except subprocess.TimeoutExpired:
            raise ArtifactError(f"QEMU did not finish {len(x)} images within {limit:.0f} s") from None
        if proc.returncode != 0:
            raise ArtifactError(
                f"the firmware failed under QEMU (exit {proc.returncode}: {(proc.stderr + proc.stdout).strip()[:500]})"
            )
        raw = (tmp / "results.bin").read_bytes()
        summary = (tmp / "summary.bin").read_bytes()
        magic, n, peak, main_depth, overhead, _csr, calibration = struct.unpack("<7I", summary[:28])
        if magic != SUMMARY_MAGIC or n != len(x) or len(raw) != RECORD * n:
            raise ArtifactError(f"the firmware reported {n} images for {len(x)} sent ({len(raw)} result bytes)")
        # The calibration loop runs 2 x CALIBRATION_LOOPS instructions (+ one timer read) between two reads.
        measured_rate = 2 * CALIBRATION_LOOPS / max(calibration - overhead, 1)
        if abs(measured_rate - INSTRUCTIONS_PER_TICK) > 0.01 * INSTRUCTIONS_PER_TICK:
            raise ArtifactError(
                f"SysTick counts {measured_rate:.2f} instructions per tick under QEMU, not "
                f"{INSTRUCTIONS_PER_TICK}: instruction counts would be wrong (is -icount shift=0 "
                f"honoured by this QEMU?)"
            )
        rec = np.frombuffer(raw, np.uint8).reshape(n, RECORD)
        scores = rec[:, :10].view(np.int8).copy()
        digits = rec[:, 10].astype(np.int64)
        ticks = rec[:, 12:16].copy().view("<u4").reshape(-1).astype(np.int64) - overhead
        instr = ticks * INSTRUCTIONS_PER_TICK
        model_o = tmp / f"edgemnist_model-{path}.o"
        return M4Run(
            path=PATH_NAMES[path],
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
            sizes=sizes(elf, model_o, int(peak)),
            opt=opt,
            toolchain=toolchain(opt),
        )
