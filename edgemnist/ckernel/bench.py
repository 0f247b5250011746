"""The Cortex-M4 benchmark: both compute paths under QEMU, figures in one JSON dict, Markdown rendered from it.

``cortex_m4_report(c_path, pixels)`` builds the firmware for the DSP and the portable path, runs the images under
QEMU mps2-an386 (see :mod:`.m4` for how instructions, stack, flash and RAM are measured), checks the outputs
against the host build of the same C (0 differing bytes required: a mismatch raises GateError), and returns the
report. ``render_markdown(report)`` renders only from that dict. ``benchmarks/cortex_m4.py`` writes both to
``benchmarks/results/``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import __version__
from edgemnist.ckernel import host, m4
from edgemnist.errors import GateError

SCHEMA = "edgemnist.cortex_m4/1"
MACS = 784 * 512 + 512 * 10

#: Issue 13's TFLM figures for this model on the same QEMU board and toolchain. Not measured here: building TFLM
#: needs its source tree, which this machine does not have offline.
TFLM_REFERENCE = {
    "measured_by": "the author of issue 13, TFLM built from source (arm-none-eabi-gcc 12.2, -Os/-O2, "
                   "TF_LITE_STATIC_MEMORY, stripped error strings, newlib-nano, MicroMutableOpResolver<2>), "
                   "QEMU mps2-an386; not reproduced here (no TFLM source offline)",
    "reference_kernels": {"instructions_per_inference": 2476401, "text_bytes": 452436, "data_bytes": 104,
                          "bss_bytes": 10264, "arena_bytes": 9025, "interpreter_bytes": 328, "stack_bytes": 368},
    "cmsis_nn_kernels": {"instructions_per_inference": 798424, "text_bytes": 465332, "arena_bytes": 9084},
}
TARGETS = {"dsp_instructions_max": 640000, "dsp_instructions_goal": 550000, "ram_bytes_max": 2560,
           "flash_below_tflm_bytes_min": 30 * 1024}


def _machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"system": platform.platform(), "cpu": cpu, "python": platform.python_version()}


def cortex_m4_report(c_path: str | Path, pixels: np.ndarray, *, paths: tuple[str, ...] = ("dsp", "portable"),
                     opt: str = m4.OPT) -> dict[str, Any]:
    c_path = Path(c_path)
    x = np.ascontiguousarray(pixels, np.uint8).reshape(-1, 784)
    ref_scores, ref_digits = host.HostKernel(c_path).run(x)
    header = host.header_path(c_path).read_text()
    source_sha = next((ln.split('"')[1] for ln in header.splitlines() if "EDGEMNIST_SOURCE_SHA256" in ln), None)
    source_name = next((ln.split('"')[1] for ln in header.splitlines() if "EDGEMNIST_SOURCE_NAME" in ln), None)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _machine(),
        "edgemnist": __version__,
        "toolchain": {**m4.toolchain(opt), "opt": opt, "host_cc": host.compiler_version()},
        "board": f"QEMU {m4.MACHINE} (Cortex-M4), -icount shift=0, SysTick at 25 MHz = "
                 f"{m4.INSTRUCTIONS_PER_TICK} instructions per tick",
        "c": {"artifact": c_path.name, "sha256": hashlib.sha256(c_path.read_bytes()).hexdigest(),
              "source": source_name, "source_sha256": source_sha},
        "images": int(len(x)),
        "macs": MACS,
        "paths": {},
        "tflm": TFLM_REFERENCE,
        "targets": TARGETS,
    }
    for path in paths:
        run = m4.run(c_path, x, path, opt=opt)
        differing = int((run.scores != ref_scores).sum())
        if differing or not np.array_equal(run.digits, ref_digits):
            raise GateError(f"the {run.path} path under QEMU differs from the host build in {differing} output bytes "
                            f"over {len(x)} images")
        fig = run.figures()
        fig.pop("toolchain")
        fig["instructions_per_mac"] = round(run.instructions_per_inference / MACS, 3)
        fig["differing_bytes_vs_host"] = differing
        report["paths"][path] = fig
    dsp = report["paths"].get("dsp")
    if dsp:
        tflm = TFLM_REFERENCE["reference_kernels"]
        report["verdict"] = {
            "dsp_instructions": dsp["instructions_per_inference"] <= TARGETS["dsp_instructions_max"],
            "dsp_instructions_goal": dsp["instructions_per_inference"] <= TARGETS["dsp_instructions_goal"],
            "ram": dsp["sizes"]["ram_bytes"] <= TARGETS["ram_bytes_max"],
            "flash": tflm["text_bytes"] - dsp["sizes"]["text_bytes"] >= TARGETS["flash_below_tflm_bytes_min"],
            "vs_cmsis_nn": round(dsp["instructions_per_inference"]
                                 / TFLM_REFERENCE["cmsis_nn_kernels"]["instructions_per_inference"], 3),
        }
    return report


def _n(x) -> str:
    return f"{x:,.0f}" if isinstance(x, (int, float)) else str(x)


def render_markdown(r: dict[str, Any]) -> str:
    """Markdown tables from a ``cortex_m4_report`` dict (nothing else is read)."""
    t = r["tflm"]["reference_kernels"]
    c = r["tflm"]["cmsis_nn_kernels"]
    lines = [
        f"<!-- generated by benchmarks/cortex_m4.py ({r['schema']}) on {r['date']}; do not edit -->",
        f"Cortex-M4 figures for `{r['c']['artifact']}` (from `{r['c']['source']}`, sha256 "
        f"`{str(r['c']['source_sha256'])[:12]}...`), {r['images']:,} MNIST test images per path, "
        f"{r['board']}; {r['toolchain']['gcc']}, `{r['toolchain']['flags']}`. Outputs of every path are "
        f"byte-identical to the host build (and so to TFLite Micro).",
        "",
        "| | edgemnist C, DSP path | edgemnist C, portable path | TFLM reference kernels * | TFLM + CMSIS-NN * |",
        "|---|---|---|---|---|",
    ]
    p = r["paths"]
    d, q = p.get("dsp", {}), p.get("portable", {})

    def cell(fig, *keys):
        v = fig
        for k in keys:
            v = v.get(k, {}) if isinstance(v, dict) else {}
        return _n(v) if v != {} else "-"

    lines += [
        f"| instructions per inference | {cell(d, 'instructions_per_inference')} | "
        f"{cell(q, 'instructions_per_inference')} | {_n(t['instructions_per_inference'])} | "
        f"{_n(c['instructions_per_inference'])} |",
        f"| instructions per MAC ({r['macs']:,} MACs) | {d.get('instructions_per_mac', '-')} | "
        f"{q.get('instructions_per_mac', '-')} | {t['instructions_per_inference'] / r['macs']:.2f} | "
        f"{c['instructions_per_inference'] / r['macs']:.2f} |",
        f"| firmware text (code + constants), B | {cell(d, 'sizes', 'text_bytes')} | {cell(q, 'sizes', 'text_bytes')}"
        f" | {_n(t['text_bytes'])} | {_n(c['text_bytes'])} |",
        f"| of which model constants, B | {cell(d, 'sizes', 'model_constants_bytes')} | "
        f"{cell(q, 'sizes', 'model_constants_bytes')} | - | - |",
        f"| of which kernel code, B | {cell(d, 'sizes', 'kernel_code_bytes')} | {cell(q, 'sizes', 'kernel_code_bytes')}"
        f" | - | - |",
        f"| of which test harness (start-up, semihosting), B | {cell(d, 'sizes', 'harness_code_bytes')} | "
        f"{cell(q, 'sizes', 'harness_code_bytes')} | - | - |",
        f"| RAM: data + bss, B | {_n(d['sizes']['data_bytes'] + d['sizes']['bss_bytes']) if d else '-'} | "
        f"{_n(q['sizes']['data_bytes'] + q['sizes']['bss_bytes']) if q else '-'} | "
        f"{_n(t['data_bytes'] + t['bss_bytes'])} | - |",
        f"| of which the kernel's activation buffer, B | {cell(d, 'sizes', 'kernel_bss_bytes')} | "
        f"{cell(q, 'sizes', 'kernel_bss_bytes')} | {_n(t['arena_bytes'])} arena + {t['interpreter_bytes']} | "
        f"{_n(c['arena_bytes'])} arena |",
        f"| peak stack (whole firmware / inside predict), B | "
        f"{cell(d, 'stack_peak_bytes')} / {cell(d, 'kernel_stack_bytes')} | "
        f"{cell(q, 'stack_peak_bytes')} / {cell(q, 'kernel_stack_bytes')} | ~{t['stack_bytes']} | - |",
        f"| RAM total (data + bss + peak stack), B | {cell(d, 'sizes', 'ram_bytes')} | {cell(q, 'sizes', 'ram_bytes')}"
        f" | ~{_n(t['data_bytes'] + t['bss_bytes'] + t['stack_bytes'])} | - |",
        "",
        f"\\* {r['tflm']['measured_by']}. RAM of the edgemnist firmware includes the harness's 784-byte image "
        f"buffer; the test harness code is the same for both paths.",
    ]
    v = r.get("verdict")
    if v:
        lines += ["", f"Targets (issue 13): DSP path <= {_n(r['targets']['dsp_instructions_max'])} instructions "
                      f"({'met' if v['dsp_instructions'] else 'MISSED'}; goal {_n(r['targets']['dsp_instructions_goal'])}"
                      f": {'met' if v['dsp_instructions_goal'] else 'missed'}), {v['vs_cmsis_nn']:.3f} x TFLM + "
                      f"CMSIS-NN; RAM <= {_n(r['targets']['ram_bytes_max'])} B "
                      f"({'met' if v['ram'] else 'MISSED'}); firmware text >= "
                      f"{_n(r['targets']['flash_below_tflm_bytes_min'])} B below TFLM's "
                      f"({'met' if v['flash'] else 'MISSED'})."]
    return "\n".join(lines) + "\n"
