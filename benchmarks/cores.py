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
README's short table). A firmware larger than its board is a row saying by how much; for such a board the same
network with 4-bit and 2-bit hidden weights follows (``--low-bits``, from ``model.int8-w4.tflite`` and
``model.int8-w2.tflite`` beside the int8 ``.tflite``, exported there when missing). Every figure is measured by
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


def low_bit_tflite(tflite: Path, bits: int, data_dir: str | None) -> Path:
    """``<stem>-w<bits>.tflite`` beside ``tflite``, exported from the model.keras there when missing."""
    from edgemnist.errors import EdgemnistError
    from edgemnist.export import ExportConfig, export_prepared, prepare

    path = tflite.with_name(f"{tflite.stem}-w{bits}.tflite")
    if path.is_file():
        return path
    keras = tflite.with_name("model.keras")
    if not keras.is_file():
        raise EdgemnistError(
            f"{path} not found, and no model.keras beside {tflite} to export it from; expected the output of "
            f"edgemnist export --format tflite --quantize int8 --weight-bits {bits}"
        )
    log(f"exporting {path} ({bits}-bit hidden weights)")
    result = export_prepared(
        prepare(keras, data_dir=data_dir), ExportConfig("tflite", "int8", weight_bits=bits), path.parent
    )
    return result.path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--tflite", type=Path, help="the int8 .tflite (default: <artifacts>/model.int8.tflite)")
    p.add_argument("--images", type=int, default=1000, help="test images per target and path (default 1000)")
    p.add_argument("--targets", help="comma-separated firmware targets (default: every firmware row)")
    p.add_argument(
        "--low-bits",
        default="4,2",
        help="weight widths measured where the 8-bit model does not fit a board, from <tflite stem>-w<bits>.tflite "
        "beside the .tflite (exported from the model.keras there when missing); '' for none (default 4,2)",
    )
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
        bits = [int(b) for b in args.low_bits.split(",") if b.strip()]
        if any(b not in (4, 2) for b in bits):
            raise EdgemnistError(f"--low-bits {args.low_bits}: expected a comma list of 4 and 2, or ''")
        with tempfile.TemporaryDirectory(prefix="edgemnist-cores-") as tmp:
            low_bit = {}
            for b in [8, *bits]:
                source = tflite if b == 8 else low_bit_tflite(tflite, b, args.data_dir)
                folder = Path(tmp) / f"w{b}"
                folder.mkdir()
                for name, text in render(read_model(source), source=source, weight_bits=b).items():
                    (folder / name).write_text(text)
                if b != 8:
                    low_bit[b] = folder / "edgemnist_model.c"
            log(f"running {args.images} images per path on {', '.join(names)} under QEMU")
            report = cores_report(Path(tmp) / "w8" / "edgemnist_model.c", images, names, low_bit=low_bit)
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
