"""The C preprocessing (``edgemnist_preprocess.c``) on an emulated Cortex-M4: its instructions, code and stack.

``preprocess_report(model_c, gray)`` builds a firmware of the model pair, the preprocessing pair and the harness
``edgemnist/build/harness/preprocess_main.c`` from the ``cortex-m4`` row of :mod:`edgemnist.build.targets` (its
compiler, flags, board start-up code and link script, libraries), runs one grayscale image under the row's emulator
(QEMU mps2-an386, ``-icount shift=0``) and returns the figures in one JSON dict; ``render_markdown`` renders only
from it. Measured as :mod:`edgemnist.build.emulate` measures the model: instructions = SysTick ticks x 40 (the
timer-read overhead subtracted, checked against a calibration loop); stack = the painted stack's deepest word, less
main's own depth; code and static RAM = the preprocessing object's
``.text + .rodata`` and ``.bss`` (the row's size tool, ``-A``). The 28x28 bytes and the scores must equal the host
build's (GateError otherwise).
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.build import compile as _build
from edgemnist.build import emulate, preprocess, targets
from edgemnist.ckernel.layout import HEADER_NAME, SOURCE_NAME
from edgemnist.ckernel.reader import read_header
from edgemnist.errors import BuildError, GateError

SCHEMA = "edgemnist.preprocess_m4/1"
TARGET = "cortex-m4"
HARNESS = "preprocess_main.c"
MAGIC = 0x31504D45
HEAD = 40


def _sources(model_c: str | Path) -> dict[str, bytes]:
    """name -> bytes: the proven model pair, the preprocessing pair, the harness (and its headers), the board."""
    c_text, h_text = _build.read_pair(model_c)
    files = {SOURCE_NAME: c_text, HEADER_NAME: h_text}
    files.update({name: text.encode("utf-8") for name, text in preprocess.texts().items()})
    pkg = resources.files("edgemnist.build")
    for item in pkg.joinpath("harness").iterdir():
        if item.name == HARNESS or item.name.endswith(".h"):
            files[item.name] = item.read_bytes()
    row = targets.get(TARGET)
    for folder in (row.board_common, row.board):  # the shared Cortex-M files, then the board's own
        if not folder:
            continue
        for item in pkg.joinpath("boards", folder).iterdir():
            if item.is_file():
                files[item.name] = item.read_bytes()
    return files


def build(model_c: str | Path, folder: Path, opt: str | None = None) -> tuple[Path, Path]:
    """(firmware ELF, the preprocessing object), built in ``folder`` from the ``cortex-m4`` row."""
    target = targets.get(TARGET)
    for tool in target.all_tools():
        tool.require("the preprocessing firmware")
    cc = target.compiler.find()
    opt = opt or target.opt
    objects = []
    for name, data in _sources(model_c).items():
        (folder / name).write_bytes(data)
    for src in (SOURCE_NAME, preprocess.SOURCE_NAME, "startup.c", HARNESS):
        obj = src.rsplit(".", 1)[0] + ".o"
        _build.run_tool([cc, *target.arch, *target.cflags, opt, "-c", src, "-o", obj], f"{cc} on {src}", cwd=folder)
        objects.append(obj)
    elf = "preprocess.elf"
    link = [cc, *target.arch, opt, *target.ldflags, "-T", "link.ld", "-o", elf, *objects, *target.libs]
    _build.run_tool(link, f"linking {elf}", cwd=folder)
    return folder / elf, folder / objects[1]


def run(model_c: str | Path, gray: np.ndarray, opt: str | None = None) -> dict[str, Any]:
    """Build and run the firmware on one uint8 (height, width) image; the raw figures and outputs."""
    target = targets.get(TARGET)
    per_tick = emulate.instructions_per_tick(target)
    a = np.ascontiguousarray(gray, np.uint8)
    with tempfile.TemporaryDirectory(prefix="edgemnist-pp-m4-") as tmp:
        tmp = Path(tmp)
        elf, pp_o = build(model_c, tmp, opt)
        (tmp / "gray.bin").write_bytes(struct.pack("<II", a.shape[1], a.shape[0]) + a.tobytes())
        _build.run_tool(
            target.emulator.command(str(elf)),
            f"the preprocessing firmware under {target.emulator.binary.command}",
            cwd=tmp,
            timeout=600,
            env={**os.environ, "QEMU_AUDIO_DRV": "none"},
        )
        try:
            raw = (tmp / "pp.bin").read_bytes()
        except OSError:
            raise BuildError("the preprocessing firmware wrote no result") from None
        obj = emulate._sections(target, pp_o)
    if len(raw) != HEAD + 784 + 10 or struct.unpack("<I", raw[:4])[0] != MAGIC:
        raise BuildError(f"the preprocessing firmware wrote {len(raw)} bytes, not a result record")
    _, rc, digit, t_norm, t_pred, overhead, calibration, main_depth, peak_norm, peak_pred = struct.unpack(
        "<IiiIIIIIII", raw[:HEAD]
    )
    rate = 2 * emulate.CALIBRATION_LOOPS / max(calibration - overhead, 1)
    if abs(rate - per_tick) > 0.01 * per_tick:
        raise BuildError(f"the timer counts {rate:.2f} instructions per tick under QEMU, not {per_tick:g}")
    return {
        "rc": rc,
        "digit": digit,
        "pixels": np.frombuffer(raw[HEAD : HEAD + 784], np.uint8).reshape(28, 28).copy(),
        "scores": np.frombuffer(raw[HEAD + 784 :], np.int8).copy(),
        "normalize_instructions": round((t_norm - overhead) * per_tick),
        "predict_gray_instructions": round((t_pred - overhead) * per_tick),
        "normalize_stack_bytes": peak_norm - main_depth,
        "predict_gray_stack_bytes": peak_pred - main_depth,
        "code_bytes": obj.get(".text", 0) + obj.get(".rodata", 0),
        "bss_bytes": obj.get(".bss", 0),
        "instructions_per_tick_measured": round(rate, 4),
    }


def preprocess_report(model_c: str | Path, gray: np.ndarray, *, image: str, opt: str | None = None) -> dict[str, Any]:
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
    target = targets.get(TARGET)
    header = _build.header_path(Path(model_c))
    facts = read_header(header.read_text(encoding="utf-8", errors="replace"), str(header))
    return {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "toolchain": {**emulate.toolchain(target, opt), "opt": opt or target.opt},
        "board": f"{emulate.board(target)} (Cortex-M4), -icount shift=0, SysTick at {target.cpu_hz / 1e6:g} MHz = "
        f"{emulate.instructions_per_tick(target):g} instructions per tick",
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
