"""The firmware benchmark of one target (the Cortex-M4 by default, or any firmware row of the target table): every
compute path under QEMU, figures in one JSON dict, Markdown rendered from it.

``cortex_m4_report(c_path, pixels)`` builds the firmware for the DSP and the portable path, runs the images under
QEMU mps2-an386 (build target ``cortex-m4``; see :mod:`edgemnist.build.emulate` for how instructions, stack,
flash and RAM are measured),
checks the outputs
against the host build of the same C (0 differing bytes required: a mismatch raises GateError), and returns the
report. ``render_markdown(report)`` renders only from that dict. The figures are this kernel's own, measured
here; the package holds no other runtime's figures and no targets (``benchmarks/cortex_m4.py``, which writes
both to ``benchmarks/results/``, is where a comparison belongs).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import __version__
from edgemnist.bench.machine import machine_info
from edgemnist.build import emulate, targets
from edgemnist.build.compile import compiler_version, header_path
from edgemnist.build.host import HostKernel
from edgemnist.ckernel.reader import read_header
from edgemnist.errors import ConfigError, DoesNotFitError, GateError

SCHEMA = "edgemnist.cortex_m4/2"
TARGET = "cortex-m4"


def counter(target: targets.Target) -> str:
    """How the row counts instructions, for reports: ``SysTick at 25 MHz = 40 instructions per tick``."""
    per_tick = f"{emulate.instructions_per_tick(target):g} instructions per tick"
    if target.counting == "instret":
        return f"the core's retired-instruction counter (minstret) = {per_tick}"
    clock = "SysTick" if target.counting == "systick-icount" else "the board's timer"
    return f"{clock} at {target.cpu_hz / 1e6:g} MHz = {per_tick}"


def cortex_m4_report(
    c_path: str | Path,
    pixels: np.ndarray,
    *,
    paths: tuple[str, ...] | None = None,
    opt: str | None = None,
    target: str = TARGET,
) -> dict[str, Any]:
    """This kernel's own figures per path (see the module doc) on the firmware row ``target`` (the Cortex-M4 by
    default; any firmware row of edgemnist.build.targets); the MAC count and the model's source are the ones the
    kernel's header states (derived from the .tflite's layer shapes when it was generated). A path whose firmware
    does not fit the board's memory is recorded as such (``fits`` False, ``overflow`` in bytes), not measured."""
    target = targets.get(target)
    if target.kind != "firmware":
        firmware = ", ".join(t.name for t in targets.TARGETS if t.kind == "firmware")
        raise ConfigError(f"{target.name} is not a firmware target; expected one of {firmware}")
    opt = opt or target.opt
    paths = paths or tuple(p.key for p in target.paths)
    c_path = Path(c_path)
    h_path = header_path(c_path)
    facts = read_header(h_path.read_text(encoding="utf-8", errors="replace"), str(h_path))
    macs = facts["EDGEMNIST_MACS"]
    x = np.ascontiguousarray(pixels, np.uint8).reshape(len(pixels), facts["EDGEMNIST_INPUT_SIZE"])
    ref_scores, ref_digits = HostKernel(c_path).run(x)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "edgemnist": __version__,
        "toolchain": {**emulate.toolchain(target, opt), "opt": opt, "host_cc": compiler_version("host")},
        "target": target.name,
        "core": target.core,
        "emulator_machine": target.emulator.machine,
        "counter": counter(target),
        "board": f"{emulate.board(target)} ({target.core}), -icount shift=0, {counter(target)}",
        "board_memory": {"flash_bytes": target.flash_bytes, "ram_bytes": target.ram_bytes},
        "c": {
            "artifact": c_path.name,
            "sha256": hashlib.sha256(c_path.read_bytes()).hexdigest(),
            "source": facts["EDGEMNIST_SOURCE_NAME"],
            "source_sha256": facts["EDGEMNIST_SOURCE_SHA256"],
        },
        "images": int(len(x)),
        "macs": macs,
        "paths": {},
    }
    for path in paths:
        try:
            run = emulate.run(target, c_path, x, path, opt=opt)
        except DoesNotFitError as exc:
            report["paths"][path] = {"path": target.path(path).name, "fits": False, "overflow_bytes": exc.overflow}
            continue
        differing = int((run.scores != ref_scores).sum())
        if differing or not np.array_equal(run.digits, ref_digits):
            raise GateError(
                f"the {run.path} path under QEMU differs from the host build in {differing} output bytes "
                f"over {len(x)} images"
            )
        fig = run.figures()
        fig.pop("toolchain")
        fig["instructions_per_mac"] = round(run.instructions_per_inference / macs, 3)
        fig["differing_bytes_vs_host"] = differing
        fig["fits"] = True
        report["paths"][path] = fig
    return report


def _n(x) -> str:
    return f"{x:,.0f}" if isinstance(x, (int, float)) else str(x)


def render_markdown(r: dict[str, Any]) -> str:
    """Markdown tables from a ``cortex_m4_report`` dict (nothing else is read): this kernel's figures only."""
    lines = [
        f"<!-- generated by benchmarks/cortex_m4.py ({r['schema']}) on {r['date']}; do not edit -->",
        f"Cortex-M4 figures for `{r['c']['artifact']}` (from `{r['c']['source']}`, sha256 "
        f"`{str(r['c']['source_sha256'])[:12]}...`), {r['images']:,} MNIST test images per path, "
        f"{r['board']}; {r['toolchain']['gcc']}, `{r['toolchain']['flags']}`. Outputs of every path are "
        f"byte-identical to the host build (and so to TFLite Micro).",
        "",
        "| | edgemnist C, DSP path | edgemnist C, portable path |",
        "|---|---|---|",
    ]
    p = r["paths"]
    d, q = p.get("dsp", {}), p.get("portable", {})

    def cell(fig, *keys):
        v = fig
        for k in keys:
            v = v.get(k, {}) if isinstance(v, dict) else {}
        return _n(v) if v != {} else "-"

    def ram(fig):
        return _n(fig["sizes"]["data_bytes"] + fig["sizes"]["bss_bytes"]) if fig else "-"

    lines += [
        f"| instructions per inference | {cell(d, 'instructions_per_inference')} | "
        f"{cell(q, 'instructions_per_inference')} |",
        f"| instructions per MAC ({r['macs']:,} MACs) | {d.get('instructions_per_mac', '-')} | "
        f"{q.get('instructions_per_mac', '-')} |",
        f"| firmware text (code + constants), B | {cell(d, 'sizes', 'text_bytes')} | "
        f"{cell(q, 'sizes', 'text_bytes')} |",
        f"| of which model constants, B | {cell(d, 'sizes', 'model_constants_bytes')} | "
        f"{cell(q, 'sizes', 'model_constants_bytes')} |",
        f"| of which kernel code, B | {cell(d, 'sizes', 'kernel_code_bytes')} | "
        f"{cell(q, 'sizes', 'kernel_code_bytes')} |",
        f"| of which test harness (start-up, semihosting), B | {cell(d, 'sizes', 'harness_code_bytes')} | "
        f"{cell(q, 'sizes', 'harness_code_bytes')} |",
        f"| RAM: data + bss, B | {ram(d)} | {ram(q)} |",
        f"| of which the kernel's activation buffer, B | {cell(d, 'sizes', 'kernel_bss_bytes')} | "
        f"{cell(q, 'sizes', 'kernel_bss_bytes')} |",
        f"| peak stack (whole firmware / inside predict), B | "
        f"{cell(d, 'stack_peak_bytes')} / {cell(d, 'kernel_stack_bytes')} | "
        f"{cell(q, 'stack_peak_bytes')} / {cell(q, 'kernel_stack_bytes')} |",
        f"| RAM total (data + bss + peak stack), B | {cell(d, 'sizes', 'ram_bytes')} | "
        f"{cell(q, 'sizes', 'ram_bytes')} |",
        "",
        "RAM of the firmware includes the test harness's buffer for one image; the harness code is the same for "
        "both paths.",
    ]
    return "\n".join(lines) + "\n"
