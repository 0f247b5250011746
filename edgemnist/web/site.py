"""The browser folder: the C kernel built for ``wasm32`` (SIMD and scalar), the page, the JS module, the manifest.

The wasm modules are the generated C kernel (``edgemnist_model.c`` + ``.h``) built by :mod:`edgemnist.build`
for the ``wasm32`` target with its glue (``edgemnist/build/harness/wasm_glue.c``: static input/output buffers
exported to JavaScript): no libc, no entry point, no imports (checked on every build), deterministic (the same C
gives the same bytes).

    python -m edgemnist.web.site KERNEL.c OUT_DIR

writes OUT_DIR/edgemnist_model.wasm (SIMD) and OUT_DIR/edgemnist_model.scalar.wasm.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from edgemnist.build.compile import build
from edgemnist.fileio import atomic_path

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

#: The files of the static folder, beside the manifest written by the exporter.
PAGE_FILES = ("index.html", "edgemnist.js")
#: wasm32 compute path -> wasm file name (the SIMD build is the artifact; the scalar build travels beside it)
WASM_FILES = {"simd": "edgemnist_model.wasm", "scalar": "edgemnist_model.scalar.wasm"}
#: the manifest beside the artifact (edgemnist.manifest.manifest_path), which the page reads
MANIFEST = "edgemnist_model.wasm.json"


def build_wasm(kernel_c: Path, out: Path, *, path: str) -> Path:
    """The ``wasm32`` build of ``kernel_c`` (its header beside it) on compute path ``path``, written to ``out``."""
    built = build("wasm32", kernel_c, path=path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        shutil.copyfile(built.file, tmp)
    return out


def build_modules(kernel_c: Path, out_dir: Path) -> dict[str, Path]:
    """Both builds into ``out_dir``: {"simd": path, "scalar": path}."""
    return {name: build_wasm(kernel_c, Path(out_dir) / file, path=name) for name, file in WASM_FILES.items()}


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


def build_site(kernel_c: Path, out_dir: Path, manifest: dict) -> Path:
    """The whole static folder: both wasm builds, the page, the JS module, and the manifest
    ``edgemnist_model.wasm.json`` (``manifest`` plus the ``web`` table the JS module reads: which wasm file is
    which build, its size and sha256)."""
    from edgemnist.fileio import atomic_write_json

    out_dir = Path(out_dir)
    build_modules(kernel_c, out_dir)
    copy_page(out_dir)
    full = dict(manifest)
    full["web"] = {**full.get("web", {}), "wasm": wasm_entries(out_dir), "page": list(PAGE_FILES)}
    atomic_write_json(out_dir / MANIFEST, full)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m edgemnist.web.site KERNEL.c OUT_DIR", file=sys.stderr)
        return 2
    for name, path in build_modules(Path(args[0]), Path(args[1])).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
