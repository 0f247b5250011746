"""A fuzz campaign: N fresh mutants of the session's artifacts, each loaded (and every fifth described by
``edgemnist info``) in its own child process with a 1 GB address-space limit and a timeout.

    python tests/fuzz/campaign.py --artifacts /path/to/export --data-dir DIR --mutants 2000 --seed 1 \\
        --report fuzz.json [--jobs 2] [--keep failures/]

prints one line per failing mutant and a summary (signals, hangs, tracebacks, other failures, peak RSS per
child, outcomes per kind); exits 1 when any mutant failed. ``tests/fuzz/test_fuzz.py`` runs the same
campaign inside pytest with a small default budget (``EDGEMNIST_FUZZ_MUTANTS``).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import harness  # noqa: E402
from fuzz.mutators import Mutator  # noqa: E402


def run_campaign(
    sources: dict[str, Path],
    images,
    n: int,
    *,
    seed: int,
    jobs: int = 1,
    workdir: Path,
    keep: Path | None = None,
    info_every: int = 5,
    log=print,
) -> dict:
    import numpy as np

    workdir.mkdir(parents=True, exist_ok=True)
    npy = workdir / "images.npy"
    np.save(npy, images)
    mutate = Mutator(sources, random.Random(seed))
    mutants = [mutate(i) for i in range(n)]  # generated up front: the same seed gives the same mutants
    servers = [harness.ForkServer(npy) for _ in range(jobs)]
    start = time.monotonic()
    failures, rows = [], []

    def one(i: int) -> None:
        m = mutants[i]
        folder = workdir / f"m{i:05d}"
        folder.mkdir()
        for name, data in m.files.items():
            (folder / name).write_bytes(data)
        artifact = folder / next(iter(m.files))
        server = servers[i % jobs]
        cases = [{"kind": "load", "path": str(artifact)}]
        if i % info_every == 0:
            cases.append({"kind": "cli", "argv": ["info", str(artifact)]})
        for j, case in enumerate(cases):
            case.update(id=f"{i}.{j}", workdir=str(folder / f"run{j}"), timeout=harness.TIMEOUT_S)
            r = server.run(case)
            bad = harness.problems(r)
            rows.append(
                {
                    "i": i,
                    "kind": m.kind,
                    "case": case["kind"],
                    "outcome": r["outcome"],
                    "rc": r.get("rc"),
                    "signal": r["signal"],
                    "hung": r["hung"],
                    "traceback": "Traceback (most recent call last)" in r["stderr"],
                    "maxrss": r["maxrss"],
                    "seconds": r["seconds"],
                    "problems": bad,
                }
            )
            if bad:
                failures.append(
                    {
                        "i": i,
                        "kind": m.kind,
                        "what": m.description,
                        "case": case["kind"],
                        "problems": bad,
                        "stderr": r["stderr"][-1500:],
                    }
                )
                log(f"FAIL mutant {i} {m.kind} ({m.description}) {case['kind']}: {'; '.join(bad)}")
                if keep is not None:
                    shutil.copytree(folder, keep / folder.name, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    try:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, range(n)))
    finally:
        for s in servers:
            s.close()
    by_kind = collections.defaultdict(collections.Counter)
    for r in rows:
        by_kind[r["kind"].split(":")[0] + ":" + r["case"]][r["outcome"] if r["case"] == "load" else f"rc{r['rc']}"] += 1
    return {
        "mutants": n,
        "children": len(rows),
        "seed": seed,
        "jobs": jobs,
        "seconds": round(time.monotonic() - start, 1),
        "signals": sum(r["signal"] is not None for r in rows),
        "hangs": sum(r["hung"] for r in rows),
        "tracebacks": sum(r["traceback"] for r in rows),
        "failures": len(failures),
        "peak_rss_max_mib": round(max(r["maxrss"] for r in rows) / 2**20, 1) if rows else 0,
        "peak_rss_median_mib": round(sorted(r["maxrss"] for r in rows)[len(rows) // 2] / 2**20, 1) if rows else 0,
        "slowest_child_s": max((r["seconds"] for r in rows), default=0),
        "mutants_by_kind": dict(collections.Counter(mutants[i].kind for i in range(n))),
        "outcomes": {k: dict(v) for k, v in sorted(by_kind.items())},
        "failed": failures,
    }


def main(argv=None) -> int:
    from fuzz.sources import ARTIFACTS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", required=True, help="folder of a default export (every format and mode)")
    p.add_argument("--data-dir", required=True, help="MNIST folder (64 test images are predicted per mutant)")
    p.add_argument("--mutants", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--report", help="write the summary JSON here")
    p.add_argument("--keep", help="copy failing mutants into this folder")
    args = p.parse_args(argv)
    from edgemnist.data import load_test

    names = ("tflite-int8", "tflite-float32", "onnx-int8", "onnx-float32", "onnx-dynamic", "micro")
    sources = {n: Path(args.artifacts) / ARTIFACTS[n][3] for n in names}
    images = load_test(args.data_dir)[0][:64]
    keep = Path(args.keep) if args.keep else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgemnist-fuzz-") as tmp:
        summary = run_campaign(
            sources, images, args.mutants, seed=args.seed, jobs=args.jobs, workdir=Path(tmp), keep=keep
        )
    text = json.dumps(summary, indent=2)
    if args.report:
        Path(args.report).write_text(text)
    print(json.dumps({k: v for k, v in summary.items() if k != "failed"}, indent=2))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
