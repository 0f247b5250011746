"""Format "web": a static folder with the page, the JS module and the C kernel compiled to WebAssembly.

``edgemnist export --format web`` writes ``web/`` in the output folder: the artifact ``edgemnist_model.wasm``
(the SIMD build), ``edgemnist_model.scalar.wasm`` (for browsers without wasm SIMD), ``index.html``,
``edgemnist.js`` and the manifest ``edgemnist_model.wasm.json``, which the page reads. Put the folder on any web
server, or run ``edgemnist serve export/web``.

It is built from the verified C kernel (format "c", itself 0 bytes off TFLite Micro on the test set) by
``edgemnist.web.site`` (the ``wasm32`` target of ``edgemnist.build``). The gate (``measure``): all test images
through both wasm builds in wasmtime, and in headless Chromium through the page's own JS API when Chromium and
Playwright are installed, with 0 output bytes differing from the same C compiled for this machine.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.errors import ConfigError
from edgemnist.export.base import Exporter, ExportJob, ExportResult, Files, io_problems
from edgemnist.export.config import ExportConfig

SCALAR = "edgemnist_model.scalar.wasm"


def _web():
    from edgemnist.web import site

    return site


class WebExporter(Exporter):
    """C kernel -> the static web folder; ``measure`` compares every wasm byte with the host C."""

    def requires(self, config: ExportConfig) -> ExportConfig | None:
        return ExportConfig("c")

    def companions(self, target: Path) -> tuple[str, ...]:
        return (SCALAR, *_web().PAGE_FILES)

    def export(self, job: ExportJob) -> None:
        site, files = _web(), job.files
        kernel_c = _kernel(job).path
        site.build_wasm(kernel_c, files.path, path="simd")
        site.build_wasm(kernel_c, files.companion(SCALAR), path="scalar")
        for name in site.PAGE_FILES:
            shutil.copyfile(site.STATIC / name, files.companion(name))

    def describe(self, job: ExportJob) -> dict[str, Any]:
        """The wasm modules' own facts; the tensors are the verified C kernel's (read from its header, which
        states the .tflite's), so the gate's "file and runtime agree" compares them with what the module
        reports about itself."""
        from edgemnist.build import targets, wasmfile
        from edgemnist.fileio import sha256_file

        site, files, kernel = _web(), job.files, _kernel(job)
        wasm = {}
        for name, staged in (("simd", files.path), ("scalar", files.companion(SCALAR))):
            module = wasmfile.inspect_module(staged.read_bytes())
            missing = [e for e in ("memory", *targets.WASM_EXPORTS) if e not in module.exports]
            wasm[name] = {
                "file": site.WASM_FILES[name],
                "bytes": staged.stat().st_size,
                "sha256": sha256_file(staged),
                "imports": [".".join(i) for i in module.imports],
                **({"missing_exports": missing} if missing else {}),
            }
        return {
            "input": dict(kernel.manifest["input"]),
            "output": dict(kernel.manifest["output"]),
            "tools": {"clang": _clang_version()},
            # The page reads this manifest: kept short (it counts in the page weight).
            "web": {"wasm": wasm, "kernel": {"file": kernel.path.name, "sha256": sha256_file(kernel.path)}},
        }

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        mode, io = job.config.mode, job.config.io
        problems = [] if (mode, io) == ("int8", "int8") else [f"web is int8 with int8 I/O only, not {mode} / {io}"]
        problems += io_problems(facts, "int8")
        for name, w in facts["web"]["wasm"].items():
            if w["imports"]:
                problems.append(f"the {name} wasm module imports {', '.join(w['imports'])}")
            if w.get("missing_exports"):
                problems.append(f"the {name} wasm module does not export {', '.join(w['missing_exports'])}")
        return problems

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        from edgemnist.build.host import HostKernel
        from edgemnist.errors import first_line
        from edgemnist.web import browser
        from edgemnist.web.runtime import WasmKernel

        files, kernel, labels = job.files, _kernel(job), job.source.data.test_labels
        pixels = int(kernel.manifest["input"]["shape"][-1])  # the kernel's input size, as its header states it
        x = np.ascontiguousarray(job.source.data.test_images, dtype=np.uint8).reshape(-1, pixels)
        want, _ = HostKernel(kernel.path).run(x)
        section: dict[str, Any] = {"n": int(len(x)), "reference": "host C"}
        problems = []
        for name, path in (("simd", files.path), ("scalar", files.companion(SCALAR))):
            got = WasmKernel(path).run(x)
            diff = int(np.count_nonzero(got != want))
            section[f"wasmtime_{name}"] = {"differing_bytes": diff, "accuracy": float(np.mean(got.argmax(1) == labels))}
            if diff:
                problems.append(f"the {name} wasm build differs from the host C in {diff} output bytes (wasmtime)")
        why = browser.available()
        if why:
            section["chromium"] = {"ran": False, "why": why}
        else:
            try:
                with tempfile.TemporaryDirectory(prefix="edgemnist-web-gate-") as tmp:
                    runs = browser.run_images(_final_names(files, Path(tmp)), x)
            except Exception as exc:  # the page failed in the browser (console error, timeout, crash): a gate failure
                section["chromium"] = {"ran": False, "why": first_line(exc)}
                return section, [*problems, f"the page failed in Chromium: {first_line(exc)}"]
            chromium = {"ran": True}
            for name, run in runs.items():
                diff = int(np.count_nonzero(run["scores"] != want))
                chromium[name] = {"differing_bytes": diff, "kernel_path": run["kernel_path"]}
                if diff:
                    problems.append(f"the {name} wasm build differs from the host C in {diff} output bytes (Chromium)")
            section["chromium"] = chromium
        return section, problems

    def summary(self, result: ExportResult) -> str | None:
        web = result.manifest.get("web") or {}
        wasm = web.get("wasm") or {}
        if not wasm:
            return None
        line = (
            f"  web: SIMD {wasm['simd']['bytes']:,} B + scalar {wasm['scalar']['bytes']:,} B wasm, no imports "
            "(open the folder with: edgemnist serve FOLDER)"
        )
        parts = [f"{k.split('_')[1]} {v['differing_bytes']}" for k, v in web.items() if k.startswith("wasmtime_")]
        if parts:
            line += f"; differing bytes vs host C over {web.get('n')} images: wasmtime " + ", ".join(parts)
        chromium = web.get("chromium") or {}
        if chromium.get("ran"):
            line += ", Chromium " + ", ".join(
                f"{k} {chromium[k]['differing_bytes']}" for k in ("simd", "scalar") if k in chromium
            )
        elif chromium:
            line += f" (Chromium not run: {chromium.get('why')})"
        return line


def _kernel(job: ExportJob) -> ExportResult:
    """The verified C kernel the job's folder is built from (``requires``)."""
    if job.input is None:
        raise ConfigError("the web folder is built from the verified C kernel, and none was given")
    return job.input


def _final_names(files: Files, folder: Path) -> Path:
    """The staged files copied under their final names (plus a manifest with the wasm table) for Chromium."""
    from edgemnist.fileio import atomic_write_json

    site = _web()
    shutil.copyfile(files.path, folder / site.WASM_FILES["simd"])
    shutil.copyfile(files.companion(SCALAR), folder / site.WASM_FILES["scalar"])
    for name in site.PAGE_FILES:
        shutil.copyfile(files.companion(name), folder / name)
    atomic_write_json(folder / site.MANIFEST, {"format": "web", "web": {"wasm": site.wasm_entries(folder)}})
    return folder


def _clang_version() -> str:
    from edgemnist.build.compile import compiler_version

    return compiler_version("wasm32")


EXPORTER = WebExporter()
