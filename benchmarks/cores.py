"""The interpreter-free C kernel on every microcontroller core of the target table, each under QEMU.

    python benchmarks/cores.py                       # 1,000 test images per target and path
    python benchmarks/cores.py --images 10000        # all of them
    python benchmarks/cores.py --tflite path/model.int8.tflite --targets cortex-m0,riscv32
    python benchmarks/cores.py --render-only         # results/cores.md again from cores.json
    python benchmarks/update_readme.py               # then paste it into docs/c-kernel.md and the README

Generates ``edgemnist_model.c``/``.h`` from the int8 ``.tflite`` (``--artifacts``/model.int8.tflite, exported there
when missing), builds a bare-metal firmware for every compute path of every firmware row of
``edgemnist/build/targets.py`` (Cortex-M0, M3, M4, M7, M33, M55, RV32IMC), runs the images under the row's QEMU
machine with ``-icount shift=0`` and semihosting, compares every output byte with the host build, and writes
``results/cores.json``, ``results/cores.md`` (one table: instructions per inference, flash text split, RAM, whether
it fits the board's real memory, differing bytes; ``edgemnist.bench.cores``) and ``results/cores_summary.md`` (the
README's short table). A firmware larger than its board is a row saying by how much. Every figure is measured by
this run; none is typed in. Exits 1 if any output byte differs from the host build (no results are written).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _artifacts import add_common, ensure_artifacts, log


def write_markdown(out: Path, report: dict) -> None:
    from edgemnist.bench.cores import render_markdown, render_summary
    from edgemnist.fileio import atomic_write_text

    atomic_write_text(out / "cores.md", render_markdown(report))
    atomic_write_text(out / "cores_summary.md", render_summary(report))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--tflite", type=Path, help="the int8 .tflite (default: <artifacts>/model.int8.tflite)")
    p.add_argument("--images", type=int, default=1000, help="test images per target and path (default 1000)")
    p.add_argument("--targets", help="comma-separated firmware targets (default: every firmware row)")
    p.add_argument("--render-only", action="store_true", help="run nothing: write the Markdown again from cores.json")
    args = p.parse_args(argv)
    if args.render_only:
        import json

        report = json.loads((args.out / "cores.json").read_text(encoding="utf-8"))
        write_markdown(args.out, report)
        log(f"wrote {args.out / 'cores.md'} and {args.out / 'cores_summary.md'} from {args.out / 'cores.json'}")
        return 0

    from edgemnist.bench.cores import cores_report, firmware_targets
    from edgemnist.build import targets
    from edgemnist.ckernel.model import read_model
    from edgemnist.ckernel.writer import render
    from edgemnist.data import load_mnist
    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json

    try:
        names = [s.strip() for s in args.targets.split(",") if s.strip()] if args.targets else firmware_targets()
        for name in names:
            if targets.get(name).kind != "firmware":
                raise EdgemnistError(f"--targets: {name} is not a firmware target; expected {firmware_targets()}")
        tflite = args.tflite or args.artifacts / "model.int8.tflite"
        if not tflite.is_file() and args.tflite is None:
            ensure_artifacts(args.artifacts, args.data_dir)
        if not 1 <= args.images <= 10000:
            raise EdgemnistError(f"--images must be 1..10000, not {args.images}")
        images = load_mnist(args.data_dir).test_images[: args.images]
        with tempfile.TemporaryDirectory(prefix="edgemnist-cores-") as tmp:
            for name, text in render(read_model(tflite), source=tflite).items():
                (Path(tmp) / name).write_text(text)
            log(f"running {args.images} images per path on {', '.join(names)} under QEMU")
            report = cores_report(Path(tmp) / "edgemnist_model.c", images, names)
    except EdgemnistError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return exc.exit_code
    atomic_write_json(args.out / "cores.json", report)
    write_markdown(args.out, report)
    print((args.out / "cores.md").read_text(encoding="utf-8"))
    log(f"wrote {args.out / 'cores.json'}, cores.md, cores_summary.md; benchmarks/update_readme.py pastes them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
