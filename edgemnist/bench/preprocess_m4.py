"""The C preprocessing (``edgemnist_preprocess.c``) on an emulated Cortex-M4: its instructions, code and stack.

``preprocess_report(model_c, gray)`` builds a firmware of the model pair, the preprocessing pair and
``ckernel/firmware/preprocess_main.c`` with the Cortex-M4 build of :mod:`edgemnist.ckernel.m4` (same compiler,
flags, start-up code and link script), runs one grayscale image under QEMU mps2-an386 with ``-icount shift=0`` and
returns the figures in one JSON dict; ``render_markdown`` renders only from it. Measured as ``m4`` measures the
model: instructions = SysTick ticks x 40 (the timer-read overhead subtracted, checked against a calibration loop);
stack = the painted stack's deepest word, less main's own depth; code and static RAM = the preprocessing object's
``.text + .rodata`` and ``.bss`` (``arm-none-eabi-size -A``). The 28x28 bytes and the scores must equal the host
build's (GateError otherwise).
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.ckernel import host, m4, preprocess
from edgemnist.ckernel.host import WARNINGS
from edgemnist.ckernel.render import SOURCE_NAME, read_header
from edgemnist.errors import ArtifactError, GateError

SCHEMA = "edgemnist.preprocess_m4/1"
MAGIC = 0x31504D45
HEAD = 40


def build(model_c: str | Path, out_dir: Path, opt: str = m4.OPT) -> tuple[Path, Path]:
    """(firmware ELF, the preprocessing object) in ``out_dir``."""
    m4.require()
    fw = resources.files("edgemnist.ckernel").joinpath("firmware")
    with resources.as_file(fw) as fw_dir, host.private_pair(model_c) as (kernel_dir, _, _):
        fw_dir = Path(fw_dir)
        for name, text in preprocess.texts().items():
            (kernel_dir / name).write_text(text, encoding="utf-8")
        common = [m4.GCC, *m4.CPU_FLAGS, opt, *WARNINGS, "-ffreestanding", "-I", str(kernel_dir), "-I", str(fw_dir)]
        objs = []
        for src in (kernel_dir / SOURCE_NAME, kernel_dir / preprocess.SOURCE_NAME):
            o = out_dir / f"{src.stem}.o"
            m4._check([*common, "-c", str(src), "-o", str(o)], f"{m4.GCC} on {src.name}", cwd=kernel_dir)
            objs.append(o)
        for name in ("startup.c", "preprocess_main.c"):
            o = out_dir / f"{name[:-2]}.o"
            m4._check([*common, "-c", str(fw_dir / name), "-o", str(o)], f"{m4.GCC} on firmware/{name}")
            objs.append(o)
        elf = out_dir / "preprocess.elf"
        m4._check(
            [
                m4.GCC,
                *m4.CPU_FLAGS,
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
    return elf, objs[1]


def run(model_c: str | Path, gray: np.ndarray, opt: str = m4.OPT) -> dict[str, Any]:
    """Build and run the firmware on one uint8 (height, width) image; the raw figures and outputs."""
    a = np.ascontiguousarray(gray, np.uint8)
    with tempfile.TemporaryDirectory(prefix="edgemnist-pp-m4-") as tmp:
        tmp = Path(tmp)
        elf, pp_o = build(model_c, tmp, opt)
        (tmp / "gray.bin").write_bytes(struct.pack("<II", a.shape[1], a.shape[0]) + a.tobytes())
        cmd = [
            m4.QEMU,
            "-M",
            m4.MACHINE,
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
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=600, cwd=tmp, env={**os.environ, "QEMU_AUDIO_DRV": "none"}
            )
        except subprocess.TimeoutExpired:
            raise ArtifactError("QEMU did not finish the preprocessing firmware within 600 s") from None
        if proc.returncode != 0 or not (tmp / "pp.bin").is_file():
            raise ArtifactError(
                f"the preprocessing firmware failed under QEMU (exit {proc.returncode}: "
                f"{(proc.stderr + proc.stdout).strip()[:500]})"
            )
        raw = (tmp / "pp.bin").read_bytes()
        magic, rc, digit, t_norm, t_pred, overhead, calibration, main_depth, peak_norm, peak_pred = struct.unpack(
            "<IiiIIIIIII", raw[:HEAD]
        )
        if magic != MAGIC or len(raw) != HEAD + 784 + 10:
            raise ArtifactError(f"the preprocessing firmware wrote {len(raw)} bytes, not a result record")
        rate = 2 * m4.CALIBRATION_LOOPS / max(calibration - overhead, 1)
        if abs(rate - m4.INSTRUCTIONS_PER_TICK) > 0.01 * m4.INSTRUCTIONS_PER_TICK:
            raise ArtifactError(f"SysTick counts {rate:.2f} instructions per tick under QEMU, not 40")
        obj = m4._sections(pp_o)
        return {
            "rc": rc,
            "digit": digit,
            "pixels": np.frombuffer(raw[HEAD : HEAD + 784], np.uint8).reshape(28, 28).copy(),
            "scores": np.frombuffer(raw[HEAD + 784 :], np.int8).copy(),
            "normalize_instructions": (t_norm - overhead) * m4.INSTRUCTIONS_PER_TICK,
            "predict_gray_instructions": (t_pred - overhead) * m4.INSTRUCTIONS_PER_TICK,
            "normalize_stack_bytes": peak_norm - main_depth,
            "predict_gray_stack_bytes": peak_pred - main_depth,
            "code_bytes": obj.get(".text", 0) + obj.get(".rodata", 0),
            "bss_bytes": obj.get(".bss", 0),
            "instructions_per_tick_measured": round(rate, 4),
        }


def preprocess_report(model_c: str | Path, gray: np.ndarray, *, image: str, opt: str = m4.OPT) -> dict[str, Any]:
    """The figures of one run (module doc), checked against the host build of the same C."""
    fig = run(model_c, gray, opt)
    pp = preprocess.HostPreprocess(model_c=model_c)
    rc, want = pp.normalize(gray)
    digit, scores = pp.predict_gray(gray)
    if fig["rc"] != rc or not np.array_equal(fig["pixels"], want):
        raise GateError("edgemnist_normalize_digit on the Cortex-M4 differs from the host build")
    if fig["digit"] != digit or not np.array_equal(fig["scores"], scores):
        raise GateError("edgemnist_predict_gray on the Cortex-M4 differs from the host build")
    w, h = preprocess.max_size()
    header = host.header_path(Path(model_c))
    facts = read_header(header.read_text(encoding="utf-8", errors="replace"), str(header))
    return {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "toolchain": {**m4.toolchain(opt), "opt": opt},
        "board": f"QEMU {m4.MACHINE} (Cortex-M4), -icount shift=0, SysTick at 25 MHz = "
        f"{m4.INSTRUCTIONS_PER_TICK} instructions per tick",
        "image": {"description": image, "width": int(gray.shape[1]), "height": int(gray.shape[0])},
        "max_size": [w, h],
        "sha256": preprocess.sha256s(),
        "model": {"source": facts["EDGEMNIST_SOURCE_NAME"], "source_sha256": facts["EDGEMNIST_SOURCE_SHA256"]},
        "return_code": fig["rc"],
        "digit": fig["digit"],
        "figures": {k: int(v) for k, v in fig.items() if k.endswith(("_instructions", "_bytes"))},
        "instructions_per_tick_measured": fig["instructions_per_tick_measured"],
        "differing_bytes_vs_host": 0,
    }


def _n(x: int) -> str:
    return f"{x:,}"


def render_markdown(r: dict[str, Any]) -> str:
    """The Markdown table of a ``preprocess_report`` dict (nothing else is read)."""
    f, im = r["figures"], r["image"]
    size = f"{im['width']}x{im['height']}"
    return "\n".join(
        [
            f"<!-- generated by benchmarks/preprocess_m4.py ({r['schema']}) on {r['date']}; do not edit -->",
            f"`edgemnist_preprocess.c` on one {size} image ({im['description']}), {r['board']}; "
            f"{r['toolchain']['gcc']}, `{r['toolchain']['flags']}`, doubles in libgcc's soft-float. The 28x28 "
            f"bytes and the scores equal the host build's.",
            "",
            f"| | `edgemnist_normalize_digit` ({size}) | `edgemnist_predict_gray` ({size}) |",
            "|---|---|---|",
            f"| instructions | {_n(f['normalize_instructions'])} | {_n(f['predict_gray_instructions'])} |",
            f"| peak stack inside the call, B | {_n(f['normalize_stack_bytes'])} | "
            f"{_n(f['predict_gray_stack_bytes'])} |",
            f"| code (flash: .text + .rodata of edgemnist_preprocess.o), B | {_n(f['code_bytes'])} | "
            f"{_n(f['code_bytes'])} + the model's |",
            f"| static buffers (.bss, sized for {r['max_size'][0]}x{r['max_size'][1]}), B | "
            f"{_n(f['bss_bytes'])} | {_n(f['bss_bytes'])} + the model's |",
            "",
        ]
    )
