"""Every target the generated C kernel is compiled for, one row each: the compiler and tools (with the Debian package
that installs them), the flags, the compute paths, the board's start-up code and link script, the harness, the
emulator and how it counts instructions, the memory budget.

A row is all a target is: :mod:`edgemnist.build.compile` builds any row and :mod:`edgemnist.build.emulate` runs any
firmware row, with no per-target code. Adding a core is one :class:`Target` in ``TARGETS`` plus its board folder
``edgemnist/build/boards/<board>/`` (``startup.c``, ``link.ld``, optional ``board.h``).
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
    for ``emulator``). Compiling is ``compiler + arch + cflags + opt + path.flags -c``; linking is
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
    harness: str | None = None
    exports: tuple[str, ...] = ()
    emulator: Emulator | None = None
    #: how instructions are counted: "" (not counted), "systick-icount" (QEMU -icount shift=0 runs one
    #: instruction per ns of virtual time; SysTick counts ``cpu_hz``: 1e9 / cpu_hz instructions per tick)
    counting: str = ""
    cpu_hz: int | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    size_tool: Tool | None = None
    nm_tool: Tool | None = None

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
        name="cortex-m4",
        kind="firmware",
        compiler=ARM_GCC,
        arch=("-mcpu=cortex-m4", "-mthumb"),
        cflags=(*WARNINGS, "-ffreestanding"),
        ldflags=FIRMWARE_LDFLAGS,
        libs=("-lgcc",),
        paths=(ComputePath("dsp", "cortex-m-dsp"), ComputePath("portable", "portable", ("-DEDGEMNIST_PORTABLE",))),
        board="cortex-m4",
        harness="main.c",
        emulator=Emulator(QEMU_ARM, "mps2-an386", QEMU_SEMIHOSTING),
        counting="systick-icount",
        cpu_hz=25_000_000,
        flash_bytes=4 << 20,
        ram_bytes=4 << 20,
        size_tool=ARM_SIZE,
        nm_tool=ARM_NM,
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

KINDS = ("library", "wasm", "firmware")
COUNTINGS = ("", "systick-icount")


def names() -> list[str]:
    return [t.name for t in TARGETS]


def get(name: str) -> Target:
    """The row ``name``; ConfigError naming the known targets."""
    for t in TARGETS:
        if t.name == name:
            return t
    raise ConfigError(f"unknown build target {name!r}; expected one of {', '.join(names())}")
