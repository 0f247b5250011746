"""The generated C as WebAssembly: ``clang --target=wasm32 -nostdlib -ffreestanding`` (+ ``-msimd128`` for the SIMD
path), linked with ``wasm-ld`` against a small glue (``firmware/wasm_glue.c``), run in-process with the ``wasmtime``
package to check its bytes against the host build. The web page builds its own module from the same pair.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from edgemnist.ckernel import host
from edgemnist.ckernel.host import WARNINGS
from edgemnist.ckernel.layout import SOURCE_NAME
from edgemnist.errors import ArtifactError, MissingDependencyError

EXPORTS = (
    "glue_pixels_ptr",
    "glue_scores_ptr",
    "glue_digits_ptr",
    "glue_batch",
    "glue_run",
    "edgemnist_path",
    "edgemnist_predict",
)


def build(c_path: str | Path, out: str | Path, *, simd: bool = True, opt: str = "-O2") -> Path:
    """Compile ``c_path`` (+ the test glue) into ``out`` (.wasm)."""
    clang = shutil.which("clang")
    if not clang:
        raise MissingDependencyError("building WebAssembly needs clang and lld (Debian: apt-get install clang lld)")
    c_path, out = Path(c_path), Path(out)
    glue = resources.files("edgemnist.ckernel").joinpath("firmware", "wasm_glue.c")
    # Proven to be edgemnist's generated kernel, then compiled from a private copy (see host.private_pair).
    with resources.as_file(glue) as glue_path, host.private_pair(c_path) as (kernel_dir, _, _):
        cmd = [
            clang,
            "--target=wasm32",
            "-nostdlib",
            "-ffreestanding",
            *WARNINGS,
            opt,
            *(["-msimd128"] if simd else []),
            "-I",
            str(kernel_dir),
            "-Wl,--no-entry",
            *[f"-Wl,--export={e}" for e in EXPORTS],
            "-o",
            str(out.resolve()),
            SOURCE_NAME,
            str(glue_path),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=kernel_dir, env=host.compiler_env())
    if proc.returncode != 0:
        raise ArtifactError(f"{c_path}: does not build for wasm32 ({proc.stderr.strip()[:600]})")
    return out


def run(wasm_path: str | Path, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(N, 784) uint8 (or (N, inputs) for another generated model) -> ((N, 10) int8 scores, (N,) digits, path
    name) from the module, via wasmtime."""
    from edgemnist._deps import require

    wasmtime = require("wasmtime", "dev", what="wasmtime")
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, str(wasm_path))
    inst = wasmtime.Instance(store, module, [])
    ex = inst.exports(store)
    mem = ex["memory"]
    batch = ex["glue_batch"](store)
    p_in, p_out, p_dig = ex["glue_pixels_ptr"](store), ex["glue_scores_ptr"](store), ex["glue_digits_ptr"](store)
    name_ptr = ex["edgemnist_path"](store)
    raw = bytes(mem.read(store, name_ptr, name_ptr + 32))
    name = raw.split(b"\0")[0].decode("ascii", "replace")
    x = np.ascontiguousarray(pixels, np.uint8)
    x = x.reshape(len(x), -1)
    scores = np.empty((len(x), 10), np.int8)
    digits = np.empty(len(x), np.int64)
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        mem.write(store, chunk.tobytes(), p_in)
        ex["glue_run"](store, len(chunk))
        scores[start : start + len(chunk)] = np.frombuffer(
            bytes(mem.read(store, p_out, p_out + 10 * len(chunk))), np.int8
        ).reshape(-1, 10)
        digits[start : start + len(chunk)] = np.frombuffer(bytes(mem.read(store, p_dig, p_dig + len(chunk))), np.uint8)
    return scores, digits, name


def check(c_path: str | Path, pixels: np.ndarray, *, simd: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    with tempfile.TemporaryDirectory(prefix="edgemnist-wasm-") as tmp:
        wasm = build(c_path, Path(tmp) / "model.wasm", simd=simd)
        return run(wasm, pixels)
