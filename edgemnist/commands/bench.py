"""edgemnist bench: accuracy, size, load time, latency percentiles and throughput of artifacts, side by side,
with the raw runtimes and Keras as baselines measured in the same run."""

from __future__ import annotations

import argparse
import math

from edgemnist.bench_config import MAX_BATCH, MAX_SECONDS, BenchConfig  # no numpy: --help stays light
from edgemnist.commands._common import add_data_dir, nonneg_int, positive_int, writable_dir


def batch_sizes(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers like 1,32,256, got {text!r}") \
            from None
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
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="artifacts to compare (.tflite, .onnx, model_data.cc, .keras), e.g. export/*.tflite")
    p.add_argument("--batch-sizes", type=batch_sizes, default=d.batch_sizes, metavar="B,B,...",
                   help=f"throughput batch sizes (default {','.join(map(str, d.batch_sizes))}); "
                        f"batch-1 latency is always measured")
    p.add_argument("--threads", type=positive_int, default=d.threads, metavar="N",
                   help=f"intra-op threads set in every runtime (default {d.threads})")
    p.add_argument("--warmup", type=nonneg_int, default=d.warmup, metavar="N",
                   help=f"untimed batch-1 calls before each measurement (default {d.warmup})")
    p.add_argument("--min-time", type=positive_seconds, default=d.min_time, metavar="S",
                   help=f"seconds per measurement, at least (default {d.min_time:g})")
    p.add_argument("--min-runs", type=positive_int, default=d.min_runs, metavar="N",
                   help=f"images per measurement, at least (default {d.min_runs})")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON (stable keys, schema version)")
    p.add_argument("--markdown", metavar="PATH", help="write a Markdown report (machine, date, tables)")
    p.add_argument("--plot", metavar="PATH", help="write a PNG: accuracy vs latency, and latency CDFs")
    p.add_argument("--no-accuracy", action="store_true",
                   help="take accuracy from each verified manifest instead of measuring the 10,000 test images")
    keras = p.add_mutually_exclusive_group()
    keras.add_argument("--keras", metavar="PATH",
                       help="the .keras model for the Keras baseline (default: found beside the artifacts)")
    keras.add_argument("--no-keras", action="store_true", help="skip the Keras baseline")
    add_data_dir(p)


def _outputs(args: argparse.Namespace):
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
        writable_dir(path.parent)
        out[key] = path
    return out


class _Bar:
    """A rich progress bar on stderr, or nothing when rich is missing or stderr is not a terminal.
    ``run_bench`` calls it with (message, jobs done, jobs in total)."""

    def __init__(self) -> None:
        self._progress = None
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            return
        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._task = self._progress.add_task("bench", total=None)

    def __call__(self, message: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=message, completed=done, total=total)

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def _column_groups(header: list[str], rows: list[list[str]], width: int) -> list[list[int]]:
    """Split a wide table into tables that fit ``width`` columns, each repeating the first column."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) + 3 for i in range(len(header))]
    groups: list[list[int]] = [[]]
    used = widths[0] + 1
    for i in range(1, len(header)):
        if groups[-1] and used + widths[i] > width:
            groups.append([])
            used = widths[0] + 1
        groups[-1].append(i)
        used += widths[i]
    return [[0, *g] for g in groups]


def _color(cell: str) -> str:
    from rich.markup import escape

    color = "red" if cell.endswith("✗") else "green" if cell.endswith("✓") else None
    return f"[{color}]{escape(cell)}[/{color}]" if color else escape(cell)


def _print_tables(report: dict) -> None:
    from edgemnist import bench_render as render

    tables = [("artifacts", *render.summary_table(report))]
    kt = render.keras_table(report)
    if kt:
        tables.append(("Keras baseline", *kt))
    footer = [f"machine: {render.machine_line(report)}", f"settings: {render.settings_line(report)}",
              render.overhead_line(report), *(f"note: {n}" for n in render.notes(report)), render.LEGEND]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for _title, header, rows in tables:
            print(render.plain_table(header, rows))
            print()
        print("\n".join(footer))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    for title, header, rows in tables:
        for columns in _column_groups(header, rows, console.width):
            table = Table(title=None if title == "artifacts" else title, title_justify="left")
            for i in columns:
                table.add_column(header[i], justify="left" if i == 0 else "right", no_wrap=True)
            for row in rows:
                table.add_row(*[_color(row[i]) for i in columns])
            console.print(table)
    for line in footer:
        console.print(line, highlight=False, markup=False)


def run(args: argparse.Namespace) -> int:
    from edgemnist import bench_render
    from edgemnist.bench import run_bench
    from edgemnist.fileio import atomic_write_text

    outputs = _outputs(args)
    config = BenchConfig(batch_sizes=args.batch_sizes, threads=args.threads, warmup=args.warmup,
                         min_time=args.min_time, min_runs=args.min_runs, accuracy=not args.no_accuracy)
    keras = None if args.no_keras else (args.keras or "auto")
    with _Bar() as bar:
        report = run_bench(args.models, config, data_dir=args.data_dir, keras=keras, progress=bar)
    data = report.to_dict()
    _print_tables(data)
    if "json" in outputs:
        atomic_write_text(outputs["json"], report.to_json())
    if "markdown" in outputs:
        atomic_write_text(outputs["markdown"], bench_render.markdown([data]))
    if "plot" in outputs:
        bench_render.plot(data, outputs["plot"])
    for path in outputs.values():
        print(f"wrote {path}")
    return 0
