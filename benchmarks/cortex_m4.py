"""Cortex-M4 benchmark of the interpreter-free C kernel: both compute paths under QEMU.

    python benchmarks/cortex_m4.py                       # 1,000 test images per path
    python benchmarks/cortex_m4.py --images 10000        # all of them
    python benchmarks/cortex_m4.py --tflite path/model.int8.tflite
    python benchmarks/cortex_m4.py --readme-only     # rewrite the README's block from results/cortex_m4.md

Generates ``edgemnist_model.c``/``.h`` from the int8 ``.tflite`` (``--artifacts``/model.int8.tflite, exported there
when missing), builds a bare-metal firmware per path with arm-none-eabi-gcc, runs the images under
``qemu-system-arm -M mps2-an386 -icount shift=0`` with semihosting, requires byte-identical outputs to the host build,
and writes ``results/cortex_m4.json`` and ``results/cortex_m4.md`` (flash/RAM split, instructions per inference,
stack, toolchain; ``edgemnist.bench.cortex_m4``) with the comparison this script draws from them (the DSP path
against the portable one). Every figure is measured by this run; none is typed in. With ``--readme`` (default
README.md when given without a value) the README's block between ``<!-- cortex-m4:start -->`` and
``<!-- cortex-m4:end -->`` is replaced by that Markdown; the rest of the README is left byte for byte.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _artifacts import REPO, add_common, ensure_artifacts, log

START, END = "<!-- cortex-m4:start -->", "<!-- cortex-m4:end -->"


def update_readme(readme: Path, markdown: str) -> bool:
    """Replace the block between START and END; False (and nothing written) when the markers are missing."""
    from edgemnist.fileio import atomic_write_text

    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    atomic_write_text(readme, f"{head}{START}\n{markdown}{END}{tail}")
    return True


def compare_paths(report: dict) -> str:
    """The comparison of the run's own paths (Markdown, one line; empty unless both ran)."""
    d, q = report["paths"].get("dsp"), report["paths"].get("portable")
    if not d or not q:
        return ""
    di, qi = d["instructions_per_inference"], q["instructions_per_inference"]
    return (f"\nThe DSP path runs {qi / di:.2f} x fewer instructions per inference than the portable path "
            f"({di:,.0f} vs {qi:,.0f}), in {d['sizes']['text_bytes'] - q['sizes']['text_bytes']:+,} B of firmware "
            f"text.\n")


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
    p.add_argument("--opt", default="-O2", choices=("-O2", "-Os", "-O3"),
                   help="arm-none-eabi-gcc optimization level (default -O2)")
    p.add_argument("--readme", type=Path, nargs="?", const=REPO / "README.md", metavar="PATH",
                   help=f"also rewrite the block between {START} and {END} in PATH (default README.md)")
    p.add_argument("--readme-only", action="store_true",
                   help="run nothing: rewrite the README block from the existing results/cortex_m4.md")
    args = p.parse_args(argv)
    if args.readme_only:
        readme = args.readme or REPO / "README.md"
        md = (args.out / "cortex_m4.md").read_text(encoding="utf-8")
        if not update_readme(readme, md):
            print(f"error: {readme} has no {START} ... {END} block", file=sys.stderr)
            return 2
        log(f"rewrote the Cortex-M4 block of {readme}")
        return 0

    from edgemnist.bench.cortex_m4 import cortex_m4_report
    from edgemnist.ckernel.model import read_model
    from edgemnist.ckernel.render import render
    from edgemnist.data import load_mnist
    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    try:
        tflite = args.tflite or args.artifacts / "model.int8.tflite"
        if not tflite.is_file() and args.tflite is None:
            ensure_artifacts(args.artifacts, args.data_dir)
        if not 1 <= args.images <= 10000:
            raise EdgemnistError(f"--images must be 1..10000, not {args.images}")
        images = load_mnist(args.data_dir).test_images[:args.images]
        with tempfile.TemporaryDirectory(prefix="edgemnist-cortex-m4-") as tmp:
            for name, text in render(read_model(tflite), source=tflite).items():
                (Path(tmp) / name).write_text(text)
            log(f"running {args.images} images per path under QEMU")
            report = cortex_m4_report(Path(tmp) / "edgemnist_model.c", images, opt=args.opt,
                                      paths=tuple(s.strip() for s in args.paths.split(",") if s.strip()))
    except EdgemnistError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return exc.exit_code
    out = args.out
    stem = "cortex_m4" if args.opt == "-O2" else f"cortex_m4{args.opt.replace('-', '_')}"
    atomic_write_json(out / f"{stem}.json", report)
    md = markdown(report)
    atomic_write_text(out / f"{stem}.md", md)
    print(md)
    log(f"wrote {out / (stem + '.json')} and {out / (stem + '.md')}")
    if args.readme is not None:
        if not update_readme(args.readme, md):
            print(f"error: {args.readme} has no {START} ... {END} block", file=sys.stderr)
            return 2
        log(f"rewrote the Cortex-M4 block of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
