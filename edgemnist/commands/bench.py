"""edgemnist bench: accuracy, size, load time, latency percentiles and throughput of artifacts, side by side,
with the raw runtimes and Keras as baselines measured in the same run."""

from __future__ import annotations

import argparse
import math

from edgemnist.bench.config import MAX_BATCH, MAX_SECONDS, BenchConfig  # no numpy: --help stays light
from edgemnist.commands._common import add_data_dir, model_files, nonneg_int, positive_int


def batch_sizes(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like 1,32,256, got {text!r}"
        ) from None
    if not sizes or any(not 1 <= b <= MAX_BATCH for b in sizes):
        raise argparse.ArgumentTypeError(f"expected batch sizes from 1 to {MAX_BATCH}, got {text!r}")
    return sizes


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"expected seconds in (0, {MAX_SECONDS:g}], got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = BenchConfig()
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help=f"artifacts to compare ({model_files()}), e.g. export/*.tflite; with a firmware --target: "
        "edgemnist_model.c files; with --weight-bits: one model.keras",
    )
    p.add_argument(
        "--batch-sizes",
        type=batch_sizes,
        default=d.batch_sizes,
        metavar="B,B,...",
        help=f"throughput batch sizes (default {','.join(map(str, d.batch_sizes))}); "
        f"batch-1 latency is always measured",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=d.threads,
        metavar="N",
        help=f"intra-op threads set in every runtime (default {d.threads})",
    )
    p.add_argument(
        "--warmup",
        type=nonneg_int,
        default=d.warmup,
        metavar="N",
        help=f"untimed batch-1 calls before each measurement (default {d.warmup})",
    )
    p.add_argument(
        "--min-time",
        type=positive_seconds,
        default=d.min_time,
        metavar="S",
        help=f"seconds per measurement, at least (default {d.min_time:g})",
    )
    p.add_argument(
        "--min-runs",
        type=positive_int,
        default=d.min_runs,
        metavar="N",
        help=f"images per measurement, at least (default {d.min_runs})",
    )
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON (stable keys, schema version)")
    p.add_argument("--markdown", metavar="PATH", help="write a Markdown report (machine, date, tables)")
    p.add_argument("--plot", metavar="PATH", help="write a PNG: accuracy vs latency, and latency CDFs")
    p.add_argument(
        "--no-accuracy",
        action="store_true",
        help="take accuracy from each verified manifest instead of measuring the 10,000 test images",
    )
    p.add_argument(
        "--target",
        default="host",
        metavar="NAME",
        help="host: time the artifacts on this machine (default); a firmware target ("
        + ", ".join(_firmware_targets())
        + "): run C artifacts (edgemnist_model.c) on that core under QEMU: instructions per inference, flash, "
        "RAM, stack, whether it fits the board's memory, for each of the core's compute paths",
    )
    p.add_argument(
        "--images",
        type=positive_int,
        default=1000,
        metavar="N",
        help="with a firmware --target or --weight-bits: test images per firmware path (default 1000, at most 10000)",
    )
    p.add_argument(
        "--weight-bits",
        metavar="B,B,...",
        help="bit width x format: export every int8 target of MODEL (a .keras) with these hidden-weight widths "
        "(e.g. 8,4,2; 8 is always included) into a weight-bits/ folder beside it, then tabulate accuracy, "
        "top-1 agreement with the 8-bit .tflite, bytes stored, and the C kernel's Cortex-M4 instructions, "
        "firmware text and RAM",
    )
    keras = p.add_mutually_exclusive_group()
    keras.add_argument(
        "--keras", metavar="PATH", help="the .keras model for the Keras baseline (default: found beside the artifacts)"
    )
    keras.add_argument("--no-keras", action="store_true", help="skip the Keras baseline")
    add_data_dir(p)


def _outputs(args: argparse.Namespace):
    import os
    from pathlib import Path

    from edgemnist.errors import ConfigError

    out = {}
    for key, suffix in (("json", ".json"), ("markdown", ".md"), ("plot", ".png")):
        value = getattr(args, key)
        if value is None:
            continue
        path = Path(value)
        if path.suffix.lower() != suffix:
            raise ConfigError(f"--{key} {value}: expected a file name ending in {suffix}")
        if path.is_dir():
            raise ConfigError(f"--{key} {value}: is a directory; expected a file name ending in {suffix}")
        parent = path.parent
        if not parent.is_dir():  # a typo in a folder name is an error, not a folder to create
            raise ConfigError(f"--{key} {value}: no such folder {parent}; expected a file in an existing folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"--{key} {value}: the folder {parent} is not writable")
        out[key] = path
    return out


def _firmware_targets() -> list[str]:
    from edgemnist.build import targets

    return [t.name for t in targets.TARGETS if t.kind == "firmware"]


def _firmware_target(name: str) -> str:
    """``name`` if it is a firmware row whose tools are installed; ConfigError naming the targets, or
    MissingDependencyError naming the Debian packages."""
    from edgemnist.build import targets
    from edgemnist.errors import ConfigError, MissingDependencyError

    known = ", ".join(["host", *_firmware_targets()])
    try:
        row = targets.get(name)
    except ConfigError:
        raise ConfigError(f"--target {name!r}: unknown target; expected one of {known}") from None
    if row.kind != "firmware":
        raise ConfigError(f"--target {name!r} is not a firmware target; expected one of {known}")
    missing = row.missing_text()
    if missing:
        raise MissingDependencyError(f"--target {name}: {missing}")
    return row.name


def _run_cortex_m4(args: argparse.Namespace, outputs: dict) -> int:
    from pathlib import Path

    from edgemnist.bench import render
    from edgemnist.bench.cortex_m4 import cortex_m4_report
    from edgemnist.bench.terminal import print_cortex_m4
    from edgemnist.data import load_mnist
    from edgemnist.errors import ConfigError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    target = _firmware_target(args.target)
    if "plot" in outputs:
        raise ConfigError(f"--plot is for --target host; --target {target} writes --json and --markdown")
    if args.images > 10000:
        raise ConfigError(f"--images {args.images}: the test set has 10000 images")
    models = [Path(m) for m in args.models]
    wrong = [str(m) for m in models if m.suffix != ".c"]
    if wrong:
        raise ConfigError(
            f"--target {target} runs C artifacts (edgemnist_model.c from export --format c), not {', '.join(wrong)}"
        )
    images = load_mnist(args.data_dir).test_images[: args.images]
    reports = []
    for model in models:
        report = cortex_m4_report(model, images, target=target)
        reports.append(report)
        print_cortex_m4(report)
    if "json" in outputs:
        atomic_write_json(outputs["json"], reports[0] if len(reports) == 1 else reports)
    if "markdown" in outputs:
        atomic_write_text(outputs["markdown"], render.cortex_m4_markdown(reports))
    for path in outputs.values():
        print(f"wrote {path}")
    return 0


def _run_weight_bits(args: argparse.Namespace, outputs: dict) -> int:
    import sys
    from pathlib import Path

    from edgemnist.bench import weight_bits
    from edgemnist.bench.terminal import print_titled
    from edgemnist.data import load_mnist
    from edgemnist.errors import ConfigError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    bits = weight_bits.parse_bits(args.weight_bits)
    d = BenchConfig()
    timing = {
        "--batch-sizes": args.batch_sizes != d.batch_sizes,
        "--threads": args.threads != d.threads,
        "--warmup": args.warmup != d.warmup,
        "--min-time": args.min_time != d.min_time,
        "--min-runs": args.min_runs != d.min_runs,
        "--no-accuracy": args.no_accuracy,
        "--keras": args.keras is not None,
        "--no-keras": args.no_keras,
    }
    given = [flag for flag, on in timing.items() if on]
    if given:
        raise ConfigError(
            f"--weight-bits measures accuracy, bytes and Cortex-M4 figures, not timings; leave out {', '.join(given)}"
        )
    if args.target != "host":
        raise ConfigError("--weight-bits measures the C kernel on cortex-m4 itself; leave out --target")
    if len(args.models) != 1 or Path(args.models[0]).suffix != ".keras":
        raise ConfigError(f"--weight-bits exports from one .keras model, not {' '.join(args.models)}")
    if args.images > 10000:
        raise ConfigError(f"--images {args.images}: the test set has 10000 images")
    model = Path(args.models[0])
    if not model.is_file():
        raise ConfigError(f"{model}: no such file; expected the .keras model to export from")
    folder = model.parent / "weight-bits"

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = weight_bits.weight_bits_report(
        model, load_mnist(args.data_dir), folder, bits=bits, m4_images=args.images, data_dir=args.data_dir, progress=say
    )
    header, rows = weight_bits.table(report, short=True)
    footer = [weight_bits.caption(report), *weight_bits.footer(report), weight_bits.legend()]
    print_titled([(None, header, rows)], footer)
    print(f"artifacts in {folder}")
    if "json" in outputs:
        atomic_write_json(outputs["json"], report)
    if "markdown" in outputs:
        atomic_write_text(outputs["markdown"], weight_bits.render_markdown(report))
    if "plot" in outputs:
        weight_bits.plot(report, outputs["plot"])
    for path in outputs.values():
        print(f"wrote {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from edgemnist.bench import render
    from edgemnist.bench.runs import run_bench
    from edgemnist.bench.terminal import ProgressBar, print_tables
    from edgemnist.fileio import atomic_write_text

    outputs = _outputs(args)
    if args.weight_bits is not None:
        return _run_weight_bits(args, outputs)
    if args.target != "host":
        return _run_cortex_m4(args, outputs)
    config = BenchConfig(
        batch_sizes=args.batch_sizes,
        threads=args.threads,
        warmup=args.warmup,
        min_time=args.min_time,
        min_runs=args.min_runs,
        accuracy=not args.no_accuracy,
    )
    keras = None if args.no_keras else (args.keras or "auto")
    with ProgressBar() as bar:
        report = run_bench(args.models, config, data_dir=args.data_dir, keras=keras, progress=bar)
    data = report.to_dict()
    print_tables(data)
    if "json" in outputs:
        atomic_write_text(outputs["json"], report.to_json())
    if "markdown" in outputs:
        atomic_write_text(outputs["markdown"], render.markdown([data]))
    if "plot" in outputs:
        from edgemnist.bench.plot import plot

        plot(data, outputs["plot"])
    for path in outputs.values():
        print(f"wrote {path}")
    return 0
