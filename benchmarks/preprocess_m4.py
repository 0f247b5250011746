"""Cortex-M4 cost of the C preprocessing (``edgemnist_preprocess.c``) on a 320x240 camera frame, under QEMU.

    python benchmarks/preprocess_m4.py                   # MNIST test digit 0 as a 320x240 frame
    python benchmarks/preprocess_m4.py --index 7 --width 320 --height 240
    python benchmarks/preprocess_m4.py --render-only     # results/preprocess_m4.md again from its JSON
    python benchmarks/update_readme.py                   # then into docs/c-kernel.md

Generates ``edgemnist_model.c``/``.h`` from the int8 ``.tflite`` (``--artifacts``/model.int8.tflite, exported there
when missing), draws the test digit as a camera frame (``edgemnist.build.preprocess.camera_frame``: enlarged 6x,
dark ink on unevenly lit paper, noise; seeded), builds a bare-metal firmware with the model, the preprocessing pair
and ``edgemnist/build/harness/preprocess_main.c`` from the ``cortex-m4`` build target, runs it under
``qemu-system-arm -M mps2-an386 -icount shift=0``, requires the same 28x28 bytes and scores as the host build,
writes ``results/preprocess_m4.json`` and ``.md`` (instructions of ``edgemnist_normalize_digit`` and
``edgemnist_predict_gray``, peak stack inside each call, the preprocessing object's code and static buffers;
``edgemnist.bench.preprocess_m4``). Every figure is measured by this run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _artifacts import add_common, ensure_artifacts, log

STEM = "preprocess_m4"
FACTOR = 6
SEED = 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--tflite", type=Path, help="the int8 .tflite (default: <artifacts>/model.int8.tflite)")
    p.add_argument("--index", type=int, default=0, help="which MNIST test image to draw (default 0)")
    p.add_argument("--width", type=int, default=320, help="frame width (default 320)")
    p.add_argument("--height", type=int, default=240, help="frame height (default 240)")
    p.add_argument(
        "--render-only", action="store_true", help=f"run nothing: write results/{STEM}.md again from its JSON"
    )
    args = p.parse_args(argv)
    from edgemnist.bench.preprocess_m4 import preprocess_report, render_markdown
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    if args.render_only:
        report = json.loads((args.out / f"{STEM}.json").read_text(encoding="utf-8"))
        atomic_write_text(args.out / f"{STEM}.md", render_markdown(report))
        log(f"wrote {args.out / (STEM + '.md')} from {args.out / (STEM + '.json')}")
        return 0

    import numpy as np

    from edgemnist.build.preprocess import camera_frame, max_size
    from edgemnist.ckernel.model import read_model
    from edgemnist.ckernel.writer import render
    from edgemnist.data import load_mnist
    from edgemnist.errors import EdgemnistError

    try:
        w_max, h_max = max_size()
        if not (28 * FACTOR <= args.width <= w_max and 28 * FACTOR <= args.height <= h_max):
            raise EdgemnistError(
                f"--width and --height must be {28 * FACTOR}..{w_max} and {28 * FACTOR}..{h_max}, "
                f"not {args.width} x {args.height}"
            )
        if not 0 <= args.index < 10000:
            raise EdgemnistError(f"--index must be 0..9999, not {args.index}")
        tflite = args.tflite or args.artifacts / "model.int8.tflite"
        if not tflite.is_file() and args.tflite is None:
            ensure_artifacts(args.artifacts, args.data_dir)
        mnist = load_mnist(args.data_dir)
        digit = mnist.test_images[args.index]
        frame = camera_frame(digit, args.width, args.height, FACTOR, np.random.default_rng(SEED))
        what = (
            f"MNIST test image {args.index} (a {mnist.test_labels[args.index]}) enlarged {FACTOR}x, dark on "
            f"unevenly lit paper with noise, seed {SEED}"
        )
        with tempfile.TemporaryDirectory(prefix="edgemnist-preprocess-m4-") as tmp:
            for name, text in render(read_model(tflite), source=tflite).items():
                (Path(tmp) / name).write_text(text)
            log(f"running edgemnist_preprocess.c on a {args.width}x{args.height} frame under QEMU")
            report = preprocess_report(Path(tmp) / "edgemnist_model.c", frame, image=what)
    except EdgemnistError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return exc.exit_code
    atomic_write_json(args.out / f"{STEM}.json", report)
    md = render_markdown(report)
    atomic_write_text(args.out / f"{STEM}.md", md)
    print(md)
    log(
        f"wrote {args.out / (STEM + '.json')} and {args.out / (STEM + '.md')}; python benchmarks/update_readme.py "
        f"pastes it into docs/c-kernel.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
