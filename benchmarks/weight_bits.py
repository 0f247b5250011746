"""Bit width x format: every int8 target exported with 8-, 4- and 2-bit hidden weights, measured side by side
(``edgemnist.bench.weight_bits``, what ``edgemnist bench MODEL.keras --weight-bits 8,4,2`` runs).

    python benchmarks/weight_bits.py                     # Cortex-M4 figures on 1,000 test images
    python benchmarks/weight_bits.py --images 10000      # all of them (the README's table)
    python benchmarks/weight_bits.py --render-only       # results/weight_bits*.md and .png again from the JSON
    python benchmarks/update_readme.py                   # then paste them into the README and docs/c-kernel.md

From ``--artifacts``/model.keras (trained there when missing) into ``--artifacts``/weight-bits/. Writes
``results/weight_bits.json``, ``weight_bits.md`` (every row), ``weight_bits_summary.md`` (one row per width, the
README's) and ``weight_bits.png`` (accuracy against bytes stored). Every figure is measured by this run.
"""

from __future__ import annotations

import argparse
import json
import sys

from _artifacts import add_common, log

GENERATOR = "benchmarks/weight_bits.py"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--images", type=int, default=1000, help="Cortex-M4 test images (default 1000; max 10000)")
    p.add_argument("--render-only", action="store_true", help="run nothing: the .md and .png again from the JSON")
    args = p.parse_args(argv)
    from edgemnist.bench import weight_bits
    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    out = args.out
    if args.render_only:
        report = json.loads((out / "weight_bits.json").read_text(encoding="utf-8"))
    else:
        if not 1 <= args.images <= 10000:
            print(f"error: --images must be 1..10000, not {args.images}", file=sys.stderr)
            return 2
        try:
            report = measure(args)
        except EdgemnistError as exc:
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return exc.exit_code
        if report["cortex_m4_skipped"]:
            print(
                f"error: the Cortex-M4 figures are part of this table: {report['cortex_m4_skipped']}", file=sys.stderr
            )
            return 2
        atomic_write_json(out / "weight_bits.json", report)
    md = weight_bits.render_markdown(report, generator=GENERATOR)
    atomic_write_text(out / "weight_bits.md", md)
    atomic_write_text(out / "weight_bits_summary.md", weight_bits.render_summary(report, generator=GENERATOR))
    weight_bits.plot(report, out / "weight_bits.png")
    print(md)
    log(f"wrote {out / 'weight_bits.json'}, .md, _summary.md and .png; python benchmarks/update_readme.py pastes them")
    return 0


def measure(args) -> dict:
    from edgemnist.bench.weight_bits import weight_bits_report
    from edgemnist.data import load_mnist
    from edgemnist.model import TrainConfig, train_and_save

    data = load_mnist(args.data_dir)
    keras_path = args.artifacts / "model.keras"
    if not keras_path.is_file():
        log(f"training {keras_path} (the default 5-epoch run)")
        args.artifacts.mkdir(parents=True, exist_ok=True)
        train_and_save(TrainConfig(), data, args.artifacts)
    return weight_bits_report(
        keras_path, data, args.artifacts / "weight-bits", m4_images=args.images, data_dir=args.data_dir, progress=log
    )


if __name__ == "__main__":
    sys.exit(main())
