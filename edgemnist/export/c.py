"""int8 .tflite -> interpreter-free C: ``edgemnist_model.c`` + ``edgemnist_model.h`` (format "c").

Generated from the VERIFIED int8 ``.tflite`` (``requires``: tflite int8 with int8 I/O), whose tensors, scales, zero
points and per-channel weights are read from the file itself (``edgemnist.ckernel.model``; no TensorFlow). The gate
(``measure``), on the 10,000 test images:

- host: the pair compiled with the system C compiler must give 0 differing output bytes against the TFLite Micro
  interpreter (reference kernels) on the same int8 model; LiteRT's agreement is recorded (top-1 >= 99.5 %);
- Cortex-M4 (build target ``cortex-m4``, when its compiler and emulator are installed): the DSP and the portable
  path under QEMU mps2-an386 on ``EDGEMNIST_M4_IMAGES`` images (default 1000) must equal the host build;
  instructions per inference, flash, RAM and stack are recorded;
- WebAssembly (build target ``wasm32``, when clang, wasm-ld and the wasmtime package are present): the SIMD path,
  run in wasmtime, must equal the host build;
- the companion pair ``edgemnist_preprocess.c``/``.h`` (``edgemnist.build.preprocess``, normalize_digit in C) must
  compile warning-free on the host and, when the ``cortex-m4`` target's compiler is installed, for the Cortex-M4,
  and give normalize_digit's bytes (and, chained with the model, edgemnist_predict's scores) on MNIST test digits
  drawn as camera frames and as they are.

Every build goes through :mod:`edgemnist.build` (the pair proven first, compiled from a private copy).

Everything lands in the manifest's ``c`` section; a toolchain that is absent is recorded as skipped, with why.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.build import emulate, preprocess, targets, verify
from edgemnist.build.compile import build, header_path, read_pair
from edgemnist.build.host import HostKernel
from edgemnist.ckernel.layout import HEADER_NAME, SOURCE_NAME
from edgemnist.ckernel.model import read_model
from edgemnist.ckernel.reader import check_pair, read_header
from edgemnist.ckernel.writer import render, tools
from edgemnist.errors import ConfigError, EdgemnistError
from edgemnist.export.base import Exporter, ExportJob, ExportResult, io_problems
from edgemnist.export.config import ExportConfig
from edgemnist.fileio import atomic_write_text, sha256_file

MIN_LITERT_AGREEMENT = 0.995
M4_IMAGES = 1000
PATHS = ("portable", "cortex-m-dsp", "cortex-m-mve", "wasm-simd128")


def _m4_images() -> int:
    raw = os.environ.get("EDGEMNIST_M4_IMAGES", str(M4_IMAGES))
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"EDGEMNIST_M4_IMAGES must be an integer from 1 to 10000, got {raw!r}") from None
    if not 1 <= n <= 10000:
        raise ConfigError(f"EDGEMNIST_M4_IMAGES must be an integer from 1 to 10000, got {n}")
    return n


def describe(
    c_path: str | Path, header: str | Path | None = None, pp: tuple[Path, Path] | None = None
) -> dict[str, Any]:
    from edgemnist.manifest import tensor_info

    c_path = Path(c_path)
    h_path = Path(header) if header is not None else header_path(c_path)
    c_text, h_text = read_pair(c_path, h_path)
    h = read_header(h_text.decode("utf-8", "replace"), str(h_path))
    values = check_pair(c_text, h_text, str(c_path), str(h_path))
    layers = [
        {
            "layer": i,
            "rows": int(values[f"rows{i}"]),
            "inputs": int(values[f"inputs{i}"]),
            "codec": values[f"codec{i}"],
            "weight_bits": int(values[f"bits{i}"]),
            "weight_bytes": int(values[f"w{i}_len"]),
        }
        for i in range(1, int(values["n_layers"]) + 1)
    ]
    return {
        "input": tensor_info(
            spec.INPUT_NAME,
            (-1, h["EDGEMNIST_INPUT_SIZE"]),
            "int8",
            h["EDGEMNIST_INPUT_SCALE"],
            h["EDGEMNIST_INPUT_ZERO_POINT"],
        ),
        "output": tensor_info(
            spec.OUTPUT_NAME,
            (-1, h["EDGEMNIST_OUTPUT_SIZE"]),
            "int8",
            h["EDGEMNIST_OUTPUT_SCALE"],
            h["EDGEMNIST_OUTPUT_ZERO_POINT"],
        ),
        "graph": {
            "ops": ["FULLY_CONNECTED", "SOFTMAX"],
            "weights": sorted({layer["codec"].split("-")[0] for layer in layers}),
            "activations": ["int8"],
        },
        "c": {
            "api": f"int edgemnist_predict(const uint8_t pixels[{h['EDGEMNIST_INPUT_SIZE']}], "
            f"int8_t scores[{h['EDGEMNIST_OUTPUT_SIZE']}])",
            "header": {"file": HEADER_NAME, "sha256": sha256_file(h_path)},
            "source": {"file": h["EDGEMNIST_SOURCE_NAME"], "sha256": h["EDGEMNIST_SOURCE_SHA256"]},
            "generator": h["EDGEMNIST_GENERATOR"],
            "paths": list(PATHS),
            "layers": layers,
            "constants_bytes": h["EDGEMNIST_CONST_BYTES"],
            "model_bytes": h["EDGEMNIST_CONST_BYTES"],  # the model size: the const arrays in flash, not the C text
            "activation_bytes": h["EDGEMNIST_ACTIVATION_BYTES"],
            "activation_buffers": "static (.bss), not reentrant",
            "macs": h["EDGEMNIST_MACS"],
            **({"preprocess": preprocess_facts(*pp)} if pp is not None else {}),
        },
    }


def preprocess_facts(source: Path, header: Path) -> dict[str, Any]:
    """The manifest's record of the companion pair: its files with sha256, the API and the largest input."""
    w, h = preprocess.max_size()
    return {
        "source": {"file": preprocess.SOURCE_NAME, "sha256": sha256_file(source)},
        "header": {"file": preprocess.HEADER_NAME, "sha256": sha256_file(header)},
        "api": [
            "int edgemnist_normalize_digit(int width, int height, const uint8_t *gray, int invert, uint8_t out[784])",
            "int edgemnist_predict_gray(int width, int height, const uint8_t *gray, int8_t *scores)",
        ],
        "max_width": w,
        "max_height": h,
        "return_codes": dict(preprocess.RETURN_CODES),
    }


def codec_problems(facts: dict[str, Any], bits: int) -> list[str]:
    """How the pair's codecs differ from ``bits``-bit hidden layers and an int8 last layer."""
    layers = facts["c"]["layers"]
    want = [bits] * (len(layers) - 1) + [8]
    got = [layer["weight_bits"] for layer in layers]
    if got != want:
        return [f"the C stores its layers' weights {got} bits wide, expected {want}"]
    return []


def check(facts: dict[str, Any], mode: str, io: str) -> list[str]:
    problems = [] if (mode, io) == ("int8", "int8") else [f"c is int8 with int8 I/O only, not {mode} / {io}"]
    return problems + io_problems(facts, "int8")


def measure(
    c_path: Path,
    header: Path,
    tflite_path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    pp: tuple[Path, Path] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The gate's C-specific part (see the module doc): (manifest section, problems)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="edgemnist-c-") as tmp:
        c = Path(tmp) / SOURCE_NAME
        shutil.copyfile(c_path, c)
        shutil.copyfile(header, Path(tmp) / HEADER_NAME)
        section: dict[str, Any] = {"host": verify.verify_host(c, tflite_path, images, labels)}
        hv = section["host"]
        if hv["tflm"]["differing_bytes"]:
            problems.append(
                f"the C differs from TFLite Micro in {hv['tflm']['differing_bytes']} output bytes over "
                f"{hv['tflm']['differing_images']} of {hv['n']} images"
            )
        if hv["litert"]["top1_agreement"] < MIN_LITERT_AGREEMENT:
            problems.append(f"the C and LiteRT agree on only {hv['litert']['top1_agreement']:.2%} of top-1 answers")
        pixels = np.asarray(images, np.uint8).reshape(len(images), -1)
        ref = HostKernel(c).run(pixels)
        section["cortex_m4"] = _cortex_m4(c, pixels, ref, problems)
        section["wasm"] = _wasm(c, pixels, ref, problems)
        if pp is not None:
            section["preprocess"] = _preprocess(pp, c, Path(tmp) / HEADER_NAME, images, problems)
    return section, problems


def _preprocess(pp: tuple[Path, Path], c: Path, header: Path, images: np.ndarray, problems: list[str]) -> dict:
    """The companion pair: host check against Python (``preprocess.check``), and the Cortex-M4 compile."""
    checked, more = preprocess.check(pp[0], pp[1], c, header, images)
    problems += more
    out: dict[str, Any] = {**preprocess_facts(*pp), "host": checked}
    target = targets.get("cortex-m4")
    missing = [t for t in (target.compiler, target.nm_tool, target.size_tool) if t is not None and t.find() is None]
    if missing:
        packages = " ".join(dict.fromkeys(t.debian_package for t in missing))
        out["cortex_m4_compile"] = {
            "skipped": f"{', '.join(t.command for t in missing)} not installed (Debian: apt-get install {packages})"
        }
        return out
    try:
        out["cortex_m4_compile"] = preprocess.compile_m4(pp[0], pp[1], c, header)
    except EdgemnistError as exc:
        problems.append(f"edgemnist_preprocess.c does not build for the Cortex-M4: {str(exc).splitlines()[0]}")
    return out


def _cortex_m4(c: Path, pixels: np.ndarray, ref, problems: list[str]) -> dict[str, Any]:
    target = targets.get("cortex-m4")
    why = target.missing_text()
    if why:
        return {"skipped": why}
    n = min(_m4_images(), len(pixels))
    out: dict[str, Any] = {"images": n, "board": emulate.board(target), "toolchain": emulate.toolchain(target)}
    for path in (p.key for p in target.paths):
        run = emulate.run(target, c, pixels[:n], path)
        differing = int((run.scores != ref[0][:n]).sum())
        if differing or not np.array_equal(run.digits, ref[1][:n]):
            problems.append(
                f"the {run.path} path on the Cortex-M4 differs from the host build in {differing} "
                f"output bytes over {n} images"
            )
        fig = run.figures()
        fig.pop("toolchain")
        fig["differing_bytes_vs_host"] = differing
        out[path] = fig
    return out


def _wasm(c: Path, pixels: np.ndarray, ref, problems: list[str]) -> dict[str, Any]:
    why = targets.get("wasm32").missing_text()
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        why = f"{why}; the wasmtime package is not installed" if why else "the wasmtime package is not installed"
    if why:
        return {"skipped": why}
    from edgemnist.web.runtime import WasmKernel

    kernel = WasmKernel(build("wasm32", c, path="simd").file)
    scores = kernel.run(pixels)
    differing = int((scores != ref[0]).sum())
    if differing or not np.array_equal(scores.argmax(1), ref[1]):
        problems.append(f"the {kernel.kernel_path} path differs from the host build in {differing} output bytes")
    return {"path": kernel.kernel_path, "images": int(len(pixels)), "differing_bytes_vs_host": differing}


def summary(manifest: dict[str, Any]) -> str | None:
    c = manifest.get("c")
    if not c or "host" not in c:
        return None
    hv = c["host"]
    line = (
        f"  C kernel: {c['constants_bytes']} B constants, {c['activation_bytes']} B static buffer; "
        f"{hv['tflm']['differing_bytes']} differing bytes vs TFLM on {hv['n']} images"
    )
    m = c.get("cortex_m4", {})
    if "dsp" in m:
        d = m["dsp"]
        line += (
            f"; Cortex-M4 DSP {d['instructions_per_inference']:,.0f} instructions/inference, "
            f"flash {d['sizes']['flash_bytes']} B, RAM {d['sizes']['ram_bytes']} B"
        )
    elif "skipped" in m:
        line += f"; Cortex-M4 check skipped ({m['skipped']})"
    return line


class CExporter(Exporter):
    """int8 .tflite -> edgemnist_model.c + edgemnist_model.h; ``measure`` compiles and runs them (module doc)."""

    def requires(self, config: ExportConfig) -> ExportConfig | None:
        return ExportConfig("tflite", "int8", "int8", weight_bits=config.weight_bits)

    def companions(self, target: Path) -> tuple[str, ...]:
        return (HEADER_NAME, *preprocess.FILES)

    def export(self, job: ExportJob) -> None:
        tflite = _tflite(job)
        pair = render(read_model(tflite), source=tflite, weight_bits=job.config.weight_bits)
        atomic_write_text(job.files.companion(HEADER_NAME), pair[HEADER_NAME])
        for name, text in preprocess.texts().items():
            atomic_write_text(job.files.companion(name), text)
        atomic_write_text(job.files.path, pair[SOURCE_NAME])

    def describe(self, job: ExportJob) -> dict[str, Any]:
        facts = describe(job.files.path, job.files.companion(HEADER_NAME), _pp(job))
        facts["tools"] = tools()
        source_weights = (job.input.manifest.get("weights") if job.input is not None else None) or None
        if job.config.low_bit and isinstance(source_weights, dict):  # the .tflite's recipe and stored levels
            facts["weights"] = source_weights
        return facts

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        problems = check(facts, job.config.mode, job.config.io) + codec_problems(facts, job.config.weight_bits)
        try:
            preprocess.verified_texts(*_pp(job))
        except EdgemnistError as exc:
            problems.append(str(exc))
        return problems

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        files, data = job.files, job.source.data
        try:
            return measure(
                files.path, files.companion(HEADER_NAME), _tflite(job), data.test_images, data.test_labels, _pp(job)
            )
        except EdgemnistError as exc:  # a compiler or emulator failure fails the gate, with its reason
            return {}, [f"the C kernel could not be checked: {str(exc).splitlines()[0]}"]

    def summary(self, result: ExportResult) -> str | None:
        return summary(result.manifest)


def _pp(job: ExportJob) -> tuple[Path, Path]:
    """Where the job's preprocessing pair is staged: (source, header)."""
    return job.files.companion(preprocess.SOURCE_NAME), job.files.companion(preprocess.HEADER_NAME)


def _tflite(job: ExportJob) -> Path:
    """The verified int8 .tflite the job's C kernel is generated from (``requires``)."""
    if job.input is None:
        raise ConfigError("the C kernel is generated from the verified int8 .tflite, and none was given")
    return Path(job.input.path)


EXPORTER = CExporter()
