"""Every format x quantization mode x thread count x batch size, side by side.

    python benchmarks/sweep.py            # the README's numbers: run it on a quiet machine (load < 0.5 per core,
                                          # recorded at start and end; update_readme.py refuses a busy run)
    python benchmarks/sweep.py --quick    # a few seconds per artifact, to check the pipeline end to end

Each thread count runs in a fresh process (``python -m edgemnist bench ... --threads N --json ...``), so
TensorFlow's thread pool (fixed once per process) and process memory start clean for each, and the numbers
come from exactly the command users run. Missing artifacts are trained and exported first. Writes
``results/sweep.json`` (every report, stable keys), ``sweep.md``, ``sweep.png`` (accuracy vs latency) and
``latency_cdf.png``. ``python benchmarks/update_readme.py`` then rewrites the README's results section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _artifacts import REPO, add_common, ensure_artifacts, log

SCHEMA = "edgemnist.sweep/1"
#: The full sweep: long enough for p999 (1000 runs) on every artifact.
FULL = {"warmup": 200, "min_time": 2.0, "min_runs": 1000}
QUICK = {"warmup": 10, "min_time": 0.05, "min_runs": 20}


def thread_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts like 1,2, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive thread counts, got {text!r}")
    return tuple(dict.fromkeys(values))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--threads", type=thread_list, default=(1, 2), metavar="N,N", help="thread counts (default 1,2)")
    p.add_argument("--batch-sizes", default="1,32,256", metavar="B,B", help="batch sizes (default 1,32,256)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"short measurements ({QUICK}) and accuracy from the manifests: checks the pipeline, not for publishing",
    )
    return p.parse_args(argv)


def bench_command(paths, keras: Path, threads: int, json_path: Path, args) -> list[str]:
    settings = QUICK if args.quick else FULL
    cmd = [
        sys.executable,
        "-m",
        "edgemnist",
        "bench",
        *map(str, paths),
        "--threads",
        str(threads),
        "--batch-sizes",
        args.batch_sizes,
        "--json",
        str(json_path),
        "--keras",
        str(keras),
        *(f"--{k.replace('_', '-')}={v}" for k, v in settings.items()),
    ]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if args.quick:
        cmd.append("--no-accuracy")
    return cmd


def display(cmd: list[str]) -> str:
    """The command as a reader would type it: ``python``, repository-relative paths, no temporary --json."""
    out, skip = ["python"], False
    for arg in cmd[1:]:
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        path = Path(arg)
        if path.is_absolute():
            try:
                arg = path.resolve().relative_to(REPO).as_posix()
            except ValueError:
                pass
        out.append(arg)
    return " ".join(out)


def training_record(keras: Path) -> dict | None:
    """What the accuracy rows come from: the training run recorded beside the Keras model."""
    from edgemnist.manifest import read_manifest

    try:
        m = read_manifest(keras)
    except Exception:  # noqa: BLE001 - an unreadable record is reported as missing, the sweep goes on
        return None
    if m is None:
        return None
    ver, train = m.get("verification") or {}, m.get("training") or {}
    return {
        "file": str(keras.name),
        "sha256": m["artifact"]["sha256"],
        "created": m.get("created"),
        "test_accuracy": ver.get("accuracy"),
        "config": train.get("config"),
        "seconds": train.get("seconds"),
        "tools": m.get("tools"),
    }


def main(argv=None) -> int:
    from edgemnist.bench import plot, render
    from edgemnist.bench.machine import ForeignLoad, load_average, machine_info
    from edgemnist.fileio import atomic_write_json, atomic_write_text
    from edgemnist.manifest import now_iso

    args = parse_args(argv)
    start = time.perf_counter()
    machine = machine_info()  # the load average before anything runs (training included)
    keras, paths = ensure_artifacts(args.artifacts, args.data_dir)
    foreign = ForeignLoad().start()  # other processes' CPU while the bench runs (the load average counts ours)
    if not paths:
        log("error: no artifacts to benchmark")
        return 2
    reports, commands = [], []
    with tempfile.TemporaryDirectory(prefix="edgemnist-sweep-") as tmp:
        for threads in args.threads:
            json_path = Path(tmp) / f"threads{threads}.json"
            cmd = bench_command(paths, keras, threads, json_path, args)
            shown = display(cmd)
            log(f"$ {shown}")
            proc = subprocess.run(cmd)
            if proc.returncode != 0:
                log(f"error: the bench run with {threads} thread(s) exited {proc.returncode}")
                return proc.returncode
            reports.append(json.loads(json_path.read_text(encoding="utf-8")))
            commands.append(shown)
    out = args.out
    given = sys.argv[1:] if argv is None else list(argv)
    sweep = {
        "schema": SCHEMA,
        "created": now_iso(),
        "quick": args.quick,
        "command": " ".join(["python benchmarks/sweep.py", *given]),
        "machine": machine,
        "load_average_start": machine["load_average"],
        "load_average_end": load_average(),
        "foreign_load": foreign.result(),
        "training": training_record(keras),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "bench_commands": commands,
        "reports": reports,
    }
    atomic_write_json(out / "sweep.json", sweep)
    title = "edgemnist sweep" + (" (--quick: not for publishing)" if args.quick else "")
    atomic_write_text(out / "sweep.md", render.markdown(reports, title=title))
    plot.plot_tradeoff(reports, out / "sweep.png")
    plot.plot_cdf(reports, out / "latency_cdf.png")
    for name in ("sweep.json", "sweep.md", "sweep.png", "latency_cdf.png"):
        log(f"wrote {out / name}")
    log(
        f"sweep wall time {sweep['wall_seconds']} s; load average {sweep['load_average_start']} at start, "
        f"{sweep['load_average_end']} at end on {machine['usable_cores']} usable cores; other processes used "
        f"{(sweep['foreign_load'] or {}).get('foreign_cores')} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
