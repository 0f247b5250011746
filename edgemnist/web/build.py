"""Build the browser folder: the C kernel compiled to WebAssembly (SIMD and scalar), the page, the JS module.

The wasm modules come from the generated C kernel (``edgemnist_model.c`` + ``.h``, the interpreter-free int8
model) and ``glue.c`` (static input/output buffers exported to JavaScript), compiled by Debian ``clang`` for
``wasm32`` with no libc and linked by ``wasm-ld`` with no entry point. A module must import nothing: that is
checked on every build (a kernel that needs ``memcpy`` or libm fails here, not in a browser).

Builds are deterministic: the sources are copied under fixed names into a fresh folder and compiled there, so
the same C gives the same bytes (the tests build twice and compare).

    python -m edgemnist.web.build KERNEL.c OUT_DIR

writes OUT_DIR/edgemnist_model.wasm (SIMD) and OUT_DIR/edgemnist_model.scalar.wasm.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgemnist.errors import ArtifactError, ConfigError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
GLUE = HERE / "glue.c"

#: What JavaScript calls (see glue.c); wasm-ld also exports ``memory``.
EXPORTS = ("em_input", "em_scores", "em_predict", "em_path")
#: The files of the static folder, beside the manifest written by the exporter.
PAGE_FILES = ("index.html", "edgemnist.js")
#: build name -> wasm file name
#: build name -> wasm file name (the SIMD build is the artifact; the scalar build travels beside it)
WASM_FILES = {"simd": "edgemnist_model.wasm", "scalar": "edgemnist_model.scalar.wasm"}
#: the manifest beside the artifact (edgemnist.manifest.manifest_path), which the page reads
MANIFEST = "edgemnist_model.wasm.json"

COMPILE_FLAGS = (
    "--target=wasm32",
    "-std=c99",
    "-O3",
    "-nostdlib",
    "-ffreestanding",
    "-Wall",
    "-Wextra",
    "-pedantic",
    "-Werror",
)
LINK_FLAGS = ("-Wl,--no-entry", "-Wl,--strip-all", *(f"-Wl,--export={name}" for name in EXPORTS))


class BuildError(ArtifactError):
    """The C kernel did not compile to a self-contained wasm module."""


@dataclass(frozen=True)
class WasmModule:
    imports: tuple[tuple[str, str], ...]  # (module, name)
    exports: tuple[str, ...]


def find_clang() -> str:
    clang = os.environ.get("EDGEMNIST_CLANG") or shutil.which("clang")
    if clang is None or shutil.which("wasm-ld") is None:
        raise ConfigError("building the web folder needs clang and wasm-ld (Debian: apt-get install clang lld)")
    return clang


def build_wasm(kernel_c: Path, out: Path, *, simd: bool, clang: str | None = None) -> Path:
    """Compile ``kernel_c`` (its header beside it, same stem) + glue.c into the wasm module ``out``."""
    kernel_c = Path(kernel_c)
    header = kernel_c.with_suffix(".h")
    if not kernel_c.is_file() or not header.is_file():
        raise ConfigError(f"{kernel_c}: expected the generated C kernel, a .c file with its .h beside it")
    clang = clang or find_clang()
    from edgemnist.ckernel.host import compiler_env, verified_pair

    c_text, h_text, _ = verified_pair(kernel_c, header)  # edgemnist's generated kernel, or refused before clang
    with tempfile.TemporaryDirectory(prefix="edgemnist-wasm-") as tmp:
        work = Path(tmp)
        (work / "edgemnist_model.c").write_bytes(c_text)
        (work / "edgemnist_model.h").write_bytes(h_text)
        shutil.copyfile(GLUE, work / "glue.c")
        cmd = [
            clang,
            *COMPILE_FLAGS,
            *(["-msimd128"] if simd else []),
            *LINK_FLAGS,
            "-o",
            "module.wasm",
            "edgemnist_model.c",
            "glue.c",
        ]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=compiler_env())
        if proc.returncode != 0:
            raise BuildError(
                f"clang failed to build the {'SIMD' if simd else 'scalar'} wasm module "
                f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        module = inspect_module((work / "module.wasm").read_bytes())
        if module.imports:
            raise BuildError(
                f"the wasm module imports {', '.join('.'.join(i) for i in module.imports)}; "
                "the kernel must not need libc or any other import"
            )
        missing = [e for e in ("memory", *EXPORTS) if e not in module.exports]
        if missing:
            raise BuildError(f"the wasm module does not export {', '.join(missing)}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(out.name + ".tmp")
        shutil.copyfile(work / "module.wasm", tmp_out)
        os.replace(tmp_out, out)
    return out


def build_modules(kernel_c: Path, out_dir: Path, *, clang: str | None = None) -> dict[str, Path]:
    """Both builds into ``out_dir``: {"simd": path, "scalar": path}."""
    clang = clang or find_clang()
    return {
        name: build_wasm(kernel_c, Path(out_dir) / file, simd=name == "simd", clang=clang)
        for name, file in WASM_FILES.items()
    }


def copy_page(out_dir: Path) -> list[Path]:
    """The page and the JS module, copied from the package."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(STATIC / name, out_dir / name)) for name in PAGE_FILES]


def wasm_entries(out_dir: Path) -> dict[str, dict]:
    """The manifest's ``web.wasm`` table: file, bytes and sha256 of each build in ``out_dir``."""
    entries = {}
    for name, file in WASM_FILES.items():
        data = (Path(out_dir) / file).read_bytes()
        entries[name] = {"file": file, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return entries


def build_site(kernel_c: Path, out_dir: Path, manifest: dict, *, clang: str | None = None) -> Path:
    """The whole static folder: both wasm builds, the page, the JS module, and the manifest
    ``edgemnist_model.wasm.json`` (``manifest``
    plus the ``web`` table the JS module reads: which wasm file is which build, its size and sha256)."""
    from edgemnist.fileio import atomic_write_json

    out_dir = Path(out_dir)
    build_modules(kernel_c, out_dir, clang=clang)
    copy_page(out_dir)
    full = dict(manifest)
    full["web"] = {**full.get("web", {}), "wasm": wasm_entries(out_dir), "page": list(PAGE_FILES)}
    atomic_write_json(out_dir / MANIFEST, full)
    return out_dir


# ---- a minimal reader of the wasm binary format: just the import and export sections ---------------------------


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise BuildError("truncated wasm module")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _leb(data, pos)
    return data[pos : pos + n].decode("utf-8", "replace"), pos + n


def _limits(data: bytes, pos: int) -> int:
    flags = data[pos]
    _, pos = _leb(data, pos + 1)
    if flags & 1:
        _, pos = _leb(data, pos)
    return pos


def inspect_module(data: bytes) -> WasmModule:
    """Imports and exports of a wasm binary."""
    if data[:8] != b"\0asm\x01\0\0\0":
        raise BuildError("not a WebAssembly (version 1) module")
    pos, imports, exports = 8, [], []
    while pos < len(data):
        section = data[pos]
        size, pos = _leb(data, pos + 1)
        end = pos + size
        if section == 2:  # imports
            count, p = _leb(data, pos)
            for _ in range(count):
                module, p = _name(data, p)
                field, p = _name(data, p)
                kind = data[p]
                p += 1
                if kind == 0:
                    _, p = _leb(data, p)
                elif kind == 1:
                    p = _limits(data, p + 1)
                elif kind == 2:
                    p = _limits(data, p)
                elif kind == 3:
                    p += 2
                else:
                    p += 1
                    _, p = _leb(data, p)
                imports.append((module, field))
        elif section == 7:  # exports
            count, p = _leb(data, pos)
            for _ in range(count):
                field, p = _name(data, p)
                _, p = _leb(data, p + 1)
                exports.append(field)
        pos = end
    return WasmModule(tuple(imports), tuple(exports))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m edgemnist.web.build KERNEL.c OUT_DIR", file=sys.stderr)
        return 2
    for name, path in build_modules(Path(args[0]), Path(args[1])).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
