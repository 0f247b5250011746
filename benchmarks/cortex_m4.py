"""Cortex-M4 benchmark of the interpreter-free C kernel: both compute paths under QEMU.

    python benchmarks/cortex_m4.py                       # 1,000 test images per path
    python benchmarks/cortex_m4.py --images 10000        # all of them
    python benchmarks/cortex_m4.py --tflite path/model.int8.tflite
    python benchmarks/cortex_m4.py --render-only         # results/cortex_m4.md again from cortex_m4.json
    python benchmarks/update_readme.py               # then paste results/cortex_m4.md into docs/c-kernel.md

Generates ``edgemnist_model.c``/``.h`` from the int8 ``.tflite`` (``--artifacts``/model.int8.tflite, exported there
when missing), builds a bare-metal firmware per path with arm-none-eabi-gcc, runs the images under
``qemu-system-arm -M mps2-an386 -icount shift=0`` with semihosting, requires byte-identical outputs to the host build,
and writes ``results/cortex_m4.json`` and ``results/cortex_m4.md`` (flash/RAM split, instructions per inference,
stack, toolchain; ``edgemnist.bench.cortex_m4``) with the comparison this script draws from them (the DSP path
against the portable one). Every figure is measured by this run; none is typed in. ``benchmarks/update_readme.py``
pastes the Markdown into docs/c-kernel.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _artifacts import add_common, ensure_artifacts, log


def compare_paths(report: dict) -> str:
    """The comparison of the run's own paths (Markdown, one line; empty unless both ran)."""
    d, q = report["paths"].get("dsp"), report["paths"].get("portable")
    if not d or not q:
        return ""
    di, qi = d["instructions_per_inference"], q["instructions_per_inference"]
    return (
        f"\nThe DSP path runs {qi / di:.2f} x fewer instructions per inference than the portable path "
        f"({di:,.0f} vs {qi:,.0f}), in {d['sizes']['text_bytes'] - q['sizes']['text_bytes']:+,} B of firmware "
        f"text.\n"
    )


def markdown(report: dict) -> str:
    """The results file: the package's tables of the report, then the comparison of its paths."""
    from edgemnist.bench.cortex_m4 import render_markdown

    return render_markdown(report) + compare_paths(report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--tflite", type=Path, help="the int8 .tflite (default: <artifacts>/model.int8.tflite)")
    p.add_argument("--images", type=int, default=1000, help="test images per path (default 1000; max 10000)")
    p.add_argument("--paths", default="dsp,portable", help="comma-separated: dsp, portable (default both)")
    p.add_argument(
        "--opt", default="-O2", choices=("-O2", "-Os", "-O3"), help="arm-none-eabi-gcc optimization level (default -O2)"
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: write results/cortex_m4.md (or the --opt variant) again from its JSON",
    )
    args = p.parse_args(argv)
    stem = "cortex_m4" if args.opt == "-O2" else f"cortex_m4{args.opt.replace('-', '_')}"
    if args.render_only:
        import json

        from edgemnist.fileio import atomic_write_text

        report = json.loads((args.out / f"{stem}.json").read_text(encoding="utf-8"))
        atomic_write_text(args.out / f"{stem}.md", markdown(report))
        log(f"wrote {args.out / (stem + '.md')} from {args.out / (stem + '.json')}")
        return 0

    from edgemnist.bench.cortex_m4 import cortex_m4_report
    from edgemnist.ckernel.model import read_model
    from edgemnist.ckernel.writer import render
    from edgemnist.data import load_mnist
    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    try:
        tflite = args.tflite or args.artifacts / "model.int8.tflite"
        if not tflite.is_file() and args.tflite is None:
            ensure_artifacts(args.artifacts, args.data_dir)
        if not 1 <= args.images <= 10000:
            raise EdgemnistError(f"--images must be 1..10000, not {args.images}")
        images = load_mnist(args.data_dir).test_images[: args.images]
        with tempfile.TemporaryDirectory(prefix="edgemnist-cortex-m4-") as tmp:
            for name, text in render(read_model(tflite), source=tflite).items():
                (Path(tmp) / name).write_text(text)
            log(f"running {args.images} images per path under QEMU")
            report = cortex_m4_report(
                Path(tmp) / "edgemnist_model.c",
                images,
                opt=args.opt,
                paths=tuple(s.strip() for s in args.paths.split(",") if s.strip()),
            )
    except EdgemnistError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return exc.exit_code
    out = args.out
    atomic_write_json(out / f"{stem}.json", report)
    md = markdown(report)
    atomic_write_text(out / f"{stem}.md", md)
    print(md)
    log(
        f"wrote {out / (stem + '.json')} and {out / (stem + '.md')}; python benchmarks/update_readme.py pastes it "
        f"into docs/c-kernel.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
