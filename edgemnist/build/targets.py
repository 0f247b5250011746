"""Every target the generated C kernel is compiled for, one row each: the compiler and tools (with the Debian package
that installs them), the flags, the compute paths, the board's start-up code and link script, the harness, the
emulator and how it counts instructions, the memory budget (the board's real one).

A row is all a target is: :mod:`edgemnist.build.compile` builds any row and :mod:`edgemnist.build.emulate` runs any
firmware row, with no per-target code. Adding a core is one :class:`Target` in ``TARGETS`` plus its board folder
``edgemnist/build/boards/<board>/`` (``link.ld``, ``board.h``: the instruction counter and the board's set-up, and
``startup.c`` unless the row's ``board_common`` folder has it: the Cortex-M boards share ``boards/cortex-m/``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from edgemnist.errors import ConfigError, MissingDependencyError

#: Warnings every build of the kernel is held to (the generated C is warning-free on every target).
WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror")


@dataclass(frozen=True)
class Tool:
    """A program a build or a run needs: its command, the Debian package that installs it, and the environment
    variable that names another one instead (``CC``), if any."""

    command: str
    debian_package: str
    env_override: str | None = None

    def find(self) -> str | None:
        """The program's path, or None when it is not installed."""
        name = (os.environ.get(self.env_override) if self.env_override else None) or self.command
        return shutil.which(name)

    def require(self, what: str) -> str:
        """The program's path; MissingDependencyError naming the Debian package when it is not installed."""
        found = self.find()
        if found is None:
            name = (os.environ.get(self.env_override) if self.env_override else None) or self.command
            raise MissingDependencyError(
                f"{what} needs {name!r}, which is not on PATH (Debian: apt-get install {self.debian_package})"
            )
        return found


@dataclass(frozen=True)
class ComputePath:
    """One compute path of the kernel on a target: ``key`` (what callers pass), ``name`` (what the kernel's
    ``edgemnist_path()`` answers) and the flags that select it (the kernel picks its path from the compiler's own
    feature macros; ``-DEDGEMNIST_PORTABLE`` forces the portable one)."""

    key: str
    name: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Emulator:
    """The system emulator a firmware runs under: ``<binary> -M <machine> <args> -kernel <elf>``."""

    binary: Tool
    machine: str
    args: tuple[str, ...]

    def command(self, elf: str) -> list[str]:
        binary = self.binary.require(f"running a firmware on {self.machine}")
        return [binary, "-M", self.machine, *self.args, "-kernel", elf]


@dataclass(frozen=True)
class Target:
    """One target (see the module doc). ``kind`` is what the build produces: ``"library"`` (a shared library to
    load with ctypes), ``"wasm"`` (a WebAssembly module that imports nothing), ``"firmware"`` (a bare-metal ELF
    for ``emulator``), ``"executable"`` (a host program: the harness's ``main`` around the kernel).
    Compiling is ``compiler + arch + cflags + opt + path.flags -c``; linking is
    ``compiler + arch + opt + ldflags (+ -T boards/<board>/link.ld) + objects + libs``."""

    name: str
    kind: str
    compiler: Tool
    tools: tuple[Tool, ...] = ()  # what the build needs besides the compiler (the emulator is its own field)
    arch: tuple[str, ...] = ()
    cflags: tuple[str, ...] = WARNINGS
    opt: str = "-O2"
    ldflags: tuple[str, ...] = ()
    libs: tuple[str, ...] = ()
    paths: tuple[ComputePath, ...] = (ComputePath("portable", "portable"),)
    board: str | None = None
    #: a folder of files several boards share (``boards/<board_common>/``), copied before the board's own
    board_common: str | None = None
    harness: str | None = None
    exports: tuple[str, ...] = ()
    emulator: Emulator | None = None
    #: how instructions are counted (see COUNTINGS): "" (not counted), "systick-icount" or "timer-icount" (QEMU
    #: -icount shift=0 runs one instruction per ns of virtual time; SysTick, or the board's timer, counts
    #: ``cpu_hz``: 1e9 / cpu_hz instructions per tick), "instret" (the core's retired-instruction counter: one per
    #: tick)
    counting: str = ""
    cpu_hz: int | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    size_tool: Tool | None = None
    nm_tool: Tool | None = None
    #: functions of the compiler's own runtime (``libs``) the kernel may call on this core, e.g. ARMv6-M's 64-bit
    #: multiply; any other call outside the kernel fails the build
    runtime_calls: tuple[str, ...] = ()
    #: the core, for reports ("Cortex-M0", "RV32IMC")
    core: str = ""

    def path(self, key: str | None = None) -> ComputePath:
        """The compute path ``key`` (the first one by default); ConfigError naming the target's paths."""
        if key is None:
            return self.paths[0]
        for p in self.paths:
            if key in (p.key, p.name):
                return p
        known = ", ".join(p.key for p in self.paths)
        raise ConfigError(f"unknown compute path {key!r} for {self.name}; expected one of {known}")

    def all_tools(self) -> tuple[Tool, ...]:
        """Every program a build (and, for a firmware, a run) of this target needs."""
        extra = (self.size_tool, self.nm_tool, self.emulator.binary if self.emulator else None)
        return (self.compiler, *self.tools, *(t for t in extra if t is not None))

    def missing(self) -> list[Tool]:
        """The programs of :meth:`all_tools` that are not installed."""
        return [t for t in self.all_tools() if t.find() is None]

    def missing_text(self) -> str | None:
        """None when every program of :meth:`all_tools` is installed; else which are not and the Debian packages
        that install them ("qemu-system-arm not installed (Debian: apt-get install qemu-system-arm)")."""
        missing = self.missing()
        if not missing:
            return None
        packages = " ".join(dict.fromkeys(p for t in missing for p in t.debian_package.split()))
        return f"{', '.join(t.command for t in missing)} not installed (Debian: apt-get install {packages})"


ARM_GCC = Tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
ARM_SIZE = Tool("arm-none-eabi-size", "binutils-arm-none-eabi")
ARM_NM = Tool("arm-none-eabi-nm", "binutils-arm-none-eabi")
QEMU_ARM = Tool("qemu-system-arm", "qemu-system-arm")
#: QEMU flags every semihosting firmware run uses: deterministic instruction timing, files through the host.
QEMU_SEMIHOSTING = (
    "-icount",
    "shift=0",
    "-semihosting-config",
    "enable=on,target=native",
    "-nographic",
    "-monitor",
    "none",
    "-serial",
    "none",
)
#: How a bare-metal firmware links: the board's start-up code instead of crt0, newlib-nano, unused code dropped.
FIRMWARE_LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections")
#: The same without any C library (where the toolchain ships none): only the compiler's runtime (``-lgcc``).
FIRMWARE_NOLIBC_LDFLAGS = ("-nostartfiles", "-nostdlib", "-Wl,--gc-sections")
RISCV_GCC = Tool("riscv64-unknown-elf-gcc", "gcc-riscv64-unknown-elf")
RISCV_SIZE = Tool("riscv64-unknown-elf-size", "binutils-riscv64-unknown-elf")
RISCV_NM = Tool("riscv64-unknown-elf-nm", "binutils-riscv64-unknown-elf")
QEMU_RISCV32 = Tool("qemu-system-riscv32", "qemu-system-misc")
DSP = ComputePath("dsp", "cortex-m-dsp")
PORTABLE = ComputePath("portable", "portable", ("-DEDGEMNIST_PORTABLE",))


def _cortex_m(name: str, core: str, cpu: str, machine: str, cpu_hz: int, flash: int, ram: int, **kw) -> Target:
    """A Cortex-M row: arm-none-eabi-gcc for ``-mcpu=<cpu>``, the shared Cortex-M start-up code, QEMU
    ``machine`` with semihosting, SysTick counting unless ``kw`` says otherwise."""
    row = dict(
        name=name,
        kind="firmware",
        core=core,
        compiler=ARM_GCC,
        arch=(f"-mcpu={cpu}", "-mthumb"),
        cflags=(*WARNINGS, "-ffreestanding"),
        ldflags=FIRMWARE_LDFLAGS,
        libs=("-lgcc",),
        paths=(DSP, PORTABLE),
        board=name,
        board_common="cortex-m",
        harness="main.c",
        emulator=Emulator(QEMU_ARM, machine, QEMU_SEMIHOSTING),
        counting="systick-icount",
        cpu_hz=cpu_hz,
        flash_bytes=flash,
        ram_bytes=ram,
        size_tool=ARM_SIZE,
        nm_tool=ARM_NM,
    )
    row.update(kw)
    return Target(**row)


#: The names JavaScript and wasmtime call in a wasm build (harness/wasm_glue.c); wasm-ld also exports ``memory``.
WASM_EXPORTS = (
    "em_input",
    "em_scores",
    "em_predict",
    "em_path",
    "em_input_size",
    "em_output_size",
    "em_input_scale",
    "em_input_zero_point",
    "em_output_scale",
    "em_output_zero_point",
)

TARGETS: tuple[Target, ...] = (
    Target(
        name="host",
        kind="library",
        compiler=Tool("cc", "gcc", env_override="CC"),
        arch=("-fPIC",),
        ldflags=("-shared",),
        nm_tool=Tool("nm", "binutils"),
    ),
    Target(
        name="host-timing",
        kind="executable",
        compiler=Tool("cc", "gcc", env_override="CC"),
        harness="timing_main.c",
        nm_tool=Tool("nm", "binutils"),
    ),
    # nRF51822 (BBC micro:bit): no SysTick on this Cortex-M0, TIMER0 at 16 MHz; its real 256 KB flash / 16 KB RAM.
    _cortex_m(
        "cortex-m0",
        "Cortex-M0",
        "cortex-m0",
        "microbit",
        16_000_000,
        256 << 10,
        16 << 10,
        paths=(PORTABLE,),
        counting="timer-icount",
        runtime_calls=("__aeabi_lmul",),  # ARMv6-M has no 32x32->64 multiply
    ),
    _cortex_m("cortex-m3", "Cortex-M3", "cortex-m3", "mps2-an385", 25_000_000, 4 << 20, 4 << 20, paths=(PORTABLE,)),
    _cortex_m("cortex-m4", "Cortex-M4", "cortex-m4", "mps2-an386", 25_000_000, 4 << 20, 4 << 20),
    _cortex_m("cortex-m7", "Cortex-M7", "cortex-m7", "mps2-an500", 25_000_000, 4 << 20, 4 << 20),
    # AN505 in the secure state: code through the secure alias 0x10000000, data 0x38000000 (SSRAM2, 2 MB).
    _cortex_m("cortex-m33", "Cortex-M33", "cortex-m33", "mps2-an505", 20_000_000, 4 << 20, 2 << 20),
    # AN547 in the secure state: ITCM 512 KB (code), DTCM 512 KB (data). Helium needs the hard-float ABI; its DSP
    # path is the same core without MVE.
    _cortex_m(
        "cortex-m55",
        "Cortex-M55",
        "cortex-m55",
        "mps3-an547",
        32_000_000,
        512 << 10,
        512 << 10,
        arch=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
        paths=(
            ComputePath("mve", "cortex-m-mve"),
            ComputePath("dsp", "cortex-m-dsp", ("-mcpu=cortex-m55+nomve",)),
            PORTABLE,
        ),
    ),
    # SiFive FE310 (HiFive1): RV32IMAC; code in the SPI flash from 0x20400000 (12 MB), 16 KB DTIM; minstret.
    Target(
        name="riscv32",
        kind="firmware",
        core="RV32IMC",
        compiler=RISCV_GCC,
        arch=("-march=rv32imc", "-mabi=ilp32", "-mcmodel=medany"),
        cflags=(*WARNINGS, "-ffreestanding"),
        ldflags=FIRMWARE_NOLIBC_LDFLAGS,
        libs=("-lgcc",),
        board="riscv32",
        harness="main.c",
        emulator=Emulator(QEMU_RISCV32, "sifive_e", QEMU_SEMIHOSTING),
        counting="instret",
        flash_bytes=12 << 20,
        ram_bytes=16 << 10,
        size_tool=RISCV_SIZE,
        nm_tool=RISCV_NM,
    ),
    Target(
        name="wasm32",
        kind="wasm",
        compiler=Tool("clang", "clang", env_override="EDGEMNIST_CLANG"),
        tools=(Tool("wasm-ld", "lld"),),
        arch=("--target=wasm32", "-nostdlib"),
        cflags=(*WARNINGS, "-ffreestanding"),
        opt="-O3",
        ldflags=("-Wl,--no-entry", "-Wl,--strip-all"),
        paths=(ComputePath("simd", "wasm-simd128", ("-msimd128",)), ComputePath("scalar", "portable")),
        harness="wasm_glue.c",
        exports=WASM_EXPORTS,
    ),
)

KINDS = ("library", "wasm", "firmware", "executable")
COUNTINGS = ("", "systick-icount", "timer-icount", "instret")


def names() -> list[str]:
    return [t.name for t in TARGETS]


def get(name: str) -> Target:
    """The row ``name``; ConfigError naming the known targets."""
    for t in TARGETS:
        if t.name == name:
            return t
    raise ConfigError(f"unknown build target {name!r}; expected one of {', '.join(names())}")
