"""Rewrite the generated sections of the README and docs/ from the results files; numbers are never typed by hand.

    python benchmarks/update_readme.py           # after sweep.py (and cold_start.py, browser.py, cortex_m4.py)
    python benchmarks/update_readme.py --check   # exit 1 if a generated section is out of date with the results
    python benchmarks/update_readme.py --allow-busy  # publish a busy run, visibly marked as such

A run is publishable only if the machine was quiet, judged per recorded run (the sweep, each bench run, the cold
start, the browser run): the 1-minute load average when it started below ``QUIET_LOAD_PER_CORE`` per usable core
(1.0 on 2 cores: nothing else was running; for a bench run inside the sweep that is the sweep's start, since its
own start follows the sweep's previous step), and the CPU that *other* processes used while it ran
(``foreign_load``: the machine's busy time minus the run's own and its children's) below
``QUIET_FOREIGN_PER_CORE`` per core (0.2 cores on 2). The load average at the end is recorded and shown but not
judged: a benchmark that keeps one core busy raises it to ~1.0 by itself, a two-thread run to ~2.0. Otherwise the
script refuses (exit 2, saying which figure), unless ``--allow-busy``, which writes the tables under a warning that
they were measured on a busy machine. ``--quick`` runs are always marked. Cortex-M4 figures are instruction counts
under ``-icount`` (deterministic), so no load rule applies to them.

The generated sections (``SECTIONS``), each between a ``<!-- NAME:start -->`` and a ``<!-- NAME:end -->`` line:

- README.md, ``bench``: the one results table (``results/sweep.json``), stating the date and the machine;
- docs/benchmarks.md, ``cold-start``: the cold-start table (``results/cold_start.json``);
- docs/web.md, ``browser``: ``results/browser.md`` (from ``benchmarks/browser.py``);
- docs/benchmarks.md, ``browser-peers``: ``results/browser_peers.md`` (from ``benchmarks/browser.py --peers``). Its
  figures that matter are ratios and agreements within one run (every runtime in the same Chromium, round-robin),
  so a busy run is pasted under the busy warning rather than refused;
- docs/c-kernel.md, ``cortex-m4``: ``results/cortex_m4.md`` (from ``benchmarks/cortex_m4.py``), then
  ``results/preprocess_m4.md`` (from ``benchmarks/preprocess_m4.py``) when it exists;
- docs/c-kernel.md, ``cores``: ``results/cores.md``, and README.md, ``cores``: ``results/cores_summary.md`` (both
  from ``benchmarks/cores.py``);
- docs/device-installs.md, ``aarch64``: ``results/aarch64.md`` (from ``benchmarks/aarch64.py``);
- docs/fit.md, ``fit``: ``results/fit_budgets.md`` (from ``benchmarks/fit_budgets.py``);
- README.md and docs/c-kernel.md, ``weight-bits``: ``results/weight_bits_summary.md`` and ``results/weight_bits.md``
  (from ``benchmarks/weight_bits.py``).

The README must have its markers; a docs file is filled when it exists (``--docs DIR``, default ``docs/`` beside
the README). Everything outside the markers is left byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
COLD_START, COLD_END = "<!-- cold-start:start -->", "<!-- cold-start:end -->"
BROWSER_START, BROWSER_END = "<!-- browser:start -->", "<!-- browser:end -->"
M4_START, M4_END = "<!-- cortex-m4:start -->", "<!-- cortex-m4:end -->"
AARCH64_START, AARCH64_END = "<!-- aarch64:start -->", "<!-- aarch64:end -->"
PEERS_START, PEERS_END = "<!-- browser-peers:start -->", "<!-- browser-peers:end -->"
CORES_START, CORES_END = "<!-- cores:start -->", "<!-- cores:end -->"
FIT_START, FIT_END = "<!-- fit:start -->", "<!-- fit:end -->"
BITS_START, BITS_END = "<!-- weight-bits:start -->", "<!-- weight-bits:end -->"


#: The machine counts as quiet while its 1-minute load average stays below this per usable core.
QUIET_LOAD_PER_CORE = 0.5
QUIET_FOREIGN_PER_CORE = 0.1


class Problem(Exception):
    """Missing or mismatched results, or markers that are not there: exit 2 with one line."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--readme", type=Path, default=REPO / "README.md", metavar="PATH", help="default README.md")
    p.add_argument(
        "--results",
        type=Path,
        default=REPO / "benchmarks" / "results",
        metavar="DIR",
        help="folder with sweep.json / cold_start.json (default benchmarks/results)",
    )
    p.add_argument(
        "--docs",
        type=Path,
        metavar="DIR",
        help="the docs folder whose generated sections are filled too (default: docs/ beside the README)",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a section is out of date")
    p.add_argument(
        "--allow-busy",
        action="store_true",
        help="write tables from a run on a busy machine, marked as such (default: refuse)",
    )
    return p.parse_args(argv)


def _cores(machine: dict | None) -> int | None:
    if not machine:
        return None
    return machine.get("usable_cores") or machine.get("logical_cores")


def quiet_problems(
    what: str, cores: int | None, start: list | None, foreign: dict | None, *, judge_start: bool = True
) -> list[str]:
    """Why one run was not measured on a quiet machine (empty: it was): its starting load average (unless the
    run follows another of the same sweep, whose own load it would see), and the CPU other processes used while
    it ran."""
    if not cores:
        return [f"{what}: no core count recorded"]
    reasons = []
    limit = QUIET_LOAD_PER_CORE * cores
    if not judge_start:
        pass
    elif not start:
        reasons.append(f"{what}: no load average recorded at start")
    elif start[0] >= limit:
        reasons.append(f"{what}: load average {start[0]:.2f} at start on {cores} cores (quiet: < {limit:g})")
    share = (foreign or {}).get("foreign_cores")
    if share is None:
        reasons.append(f"{what}: no record of other processes' CPU use (foreign_load)")
    elif share >= QUIET_FOREIGN_PER_CORE * cores:
        reasons.append(
            f"{what}: other processes used {share:.2f} cores while it ran on {cores} cores "
            f"(quiet: < {QUIET_FOREIGN_PER_CORE * cores:g})"
        )
    return reasons


def busy(sweep: dict, cold: dict | None) -> list[str]:
    """Why the results are not from a quiet machine (empty: they are), for the sweep, each bench run and the
    cold start."""
    fallback = _cores(sweep["reports"][0].get("machine")) if sweep.get("reports") else None
    reasons = quiet_problems(
        "sweep", _cores(sweep.get("machine")) or fallback, sweep.get("load_average_start"), sweep.get("foreign_load")
    )
    for r in sweep["reports"]:
        m = r.get("machine") or {}
        # A bench run starts right after the sweep's export or its previous run: its starting load average is
        # the sweep's own; the sweep's start and every run's foreign CPU are what tell a busy machine.
        reasons += quiet_problems(
            f"bench --threads {r['config']['threads']}",
            _cores(m) or fallback,
            m.get("load_average"),
            m.get("foreign_load"),
            judge_start=False,
        )
    if cold:
        reasons += quiet_problems(
            "cold start",
            _cores(cold.get("machine")) or fallback,
            cold.get("load_average_start"),
            cold.get("foreign_load"),
        )
    return reasons


def _load(path: Path, schema: str) -> dict | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema") != schema:
        raise Problem(f"{path}: schema {data.get('schema')!r}, expected {schema!r}")
    return data


def overview(reports: list[dict]) -> tuple[list[str], list[str]]:
    """One row per artifact; p50 and throughput for each thread count side by side."""
    from edgemnist.bench.render import fmt_ips, fmt_ms, fmt_overhead, fmt_size, latency, measurement

    big = max(reports[0]["config"]["batch_sizes"])
    header = ["artifact", "model size", "accuracy"]
    for r in reports:
        t = r["config"]["threads"]
        header += [f"p50 ms ({t}t)", f"p99 ms ({t}t)", f"×raw ({t}t)", f"img/s b{big} ({t}t)"]
    rows = []
    names = list(dict.fromkeys(a["name"] for r in reports for a in r["artifacts"]))
    for name in names:
        found = [next((a for a in r["artifacts"] if a["name"] == name), None) for r in reports]
        first = next(a for a in found if a)
        acc = "-" if first["accuracy"] is None else f"{first['accuracy']:.2%}"
        size = fmt_size(first["deploy_bytes"])
        row = [f"`{name}`", size, acc]
        for a in found:
            if a is None:
                row += ["-"] * 4
                continue
            m = measurement(a, "predictor", big)
            row += [
                fmt_ms(latency(a, "predictor")),
                fmt_ms(latency(a, "predictor", "p99")),
                fmt_overhead(a),
                fmt_ips(m["images_per_s"]) if m else "-",
            ]
        rows.append(row)
    for r in reports[:1]:
        k = r.get("keras")
        if k:
            row = ["Keras `model(x)`", "-", "-" if k["accuracy"] is None else f"{k['accuracy']:.2%}"]
            for rr in reports:
                kk = rr.get("keras") or {}
                m = measurement(kk, "keras.call", big)
                row += [
                    fmt_ms(latency(kk, "keras.call")),
                    fmt_ms(latency(kk, "keras.call", "p99")),
                    "-",
                    fmt_ips(m["images_per_s"]) if m else "-",
                ]
            rows.append(row)
    return header, rows


def _refuse_busy(reasons: list[str], what: str, allow_busy: bool) -> None:
    if reasons and not allow_busy:
        raise Problem(
            f"the {what} results were measured on a busy machine ({'; '.join(reasons[:3])}"
            f"{'; ...' if len(reasons) > 3 else ''}); re-run it on a quiet machine, or pass --allow-busy "
            f"to publish them marked as such"
        )


def _busy_note(reasons: list[str], consequence: str) -> list[str]:
    if not reasons:
        return []
    more = "; ..." if len(reasons) > 3 else ""
    return [f"> **Measured on a busy machine** ({'; '.join(reasons[:3])}{more}): {consequence}", ""]


def _generated(start: str, source: str) -> list[str]:
    return [start, f"<!-- generated by benchmarks/update_readme.py from {source}; do not edit by hand -->", ""]


def section(results: Path, readme: Path, allow_busy: bool = False) -> str:
    """The README's one results table: batch-1 latency, accuracy, size and throughput of every artifact."""
    from edgemnist.bench.render import machine_line, md_table, overhead_target
    from edgemnist.bench.report import SCHEMA

    sweep = _load(results / "sweep.json", "edgemnist.sweep/1")
    if sweep is None:
        raise Problem(f"{results / 'sweep.json'} not found; run python benchmarks/sweep.py first")
    stale = {r.get("schema") for r in sweep["reports"]} - {SCHEMA}
    if stale:
        raise Problem(
            f"{results / 'sweep.json'}: bench reports of schema {sorted(map(str, stale))}, expected "
            f"{SCHEMA!r}; re-run python benchmarks/sweep.py"
        )
    reasons = busy(sweep, None)
    _refuse_busy(reasons, "sweep", allow_busy or bool(sweep.get("quick")))
    rel = Path(os.path.relpath(results, readme.parent)).as_posix()
    reports = sweep["reports"]
    first = reports[0]
    c = first["config"]
    lines = _generated(START, "benchmarks/results/sweep.json")
    if sweep.get("quick"):
        lines += ["> **Quick run, not for publishing:** re-run `python benchmarks/sweep.py` on a quiet machine.", ""]
    lines += _busy_note(reasons, "latencies and throughputs are not reproducible; re-run on a quiet machine.")
    load0, load1 = sweep.get("load_average_start"), sweep.get("load_average_end")
    load = f" (whole sweep: load average {load0[0]:.2f} at start, {load1[0]:.2f} at end)" if load0 and load1 else ""
    lines += [
        f"Measured {first['created']} on {machine_line(first)}{load}.",
        "",
        f"Batch-1 latency of `Predictor.predict_proba` per call after {c['warmup']} warm-up calls, at least "
        f"{c['min_time']:g} s and {c['min_runs']} runs per measurement; ×raw = predictor p50 / the runtime driven "
        f"directly on the same images (✓ within the {overhead_target(first)} target, ✗ above); model size = the "
        f"bytes a device stores (kB = 1000 B). {_accuracy_note(sweep, first)} Reproduce: `{sweep['command']}`, "
        f"which runs `edgemnist bench` once per thread count in a fresh process (commands in sweep.json).",
        "",
    ]
    lines += md_table(*overview(reports))
    lines += [
        "",
        f"Full tables: [{rel}/sweep.md]({rel}/sweep.md); plots: [accuracy vs latency]({rel}/sweep.png), "
        f"[latency CDF]({rel}/latency_cdf.png).",
        "",
        END,
    ]
    return "\n".join(lines)


def cold_section(results: Path, doc: Path, allow_busy: bool = False) -> str:
    """Fresh-process start-up of every artifact kind (results/cold_start.json from benchmarks/cold_start.py)."""
    from edgemnist.bench.render import fmt_bytes, md_table

    cold = _load(results / "cold_start.json", "edgemnist.cold_start/1")
    if cold is None:
        raise Problem(f"{results / 'cold_start.json'} not found; run python benchmarks/cold_start.py first")
    reasons = quiet_problems(
        "cold start", _cores(cold.get("machine")), cold.get("load_average_start"), cold.get("foreign_load")
    )
    _refuse_busy(reasons, "cold start", allow_busy)
    rel = Path(os.path.relpath(results, doc.parent)).as_posix()
    header = ["fresh process", "wall ms (median)", "peak RSS"]
    rows = [[r["name"], f"{r['wall_ms_median']:.0f}", fmt_bytes(r["peak_rss_bytes_median"])] for r in cold["results"]]
    lines = [
        *_generated(COLD_START, "benchmarks/results/cold_start.json"),
        *_busy_note(reasons, "start-up times are pessimistic."),
        f"Cold start (median of {cold['repeats']} fresh processes, {cold['created']}; "
        f"[{rel}/cold_start.md]({rel}/cold_start.md)):",
        "",
        *md_table(header, rows),
        "",
    ]
    dev = cold.get("device_start")
    if dev:
        rss = "-" if dev["rss_delta_bytes"] is None else f"{dev['rss_delta_bytes'] / 1e6:+.1f} MB"
        lines += [
            f"Device start-up (`Predictor.load` + first prediction vs raw ai_edge_litert doing the same, "
            f"fresh processes side by side): {dev['wall_ratio']:.2f}× "
            f"({'✓' if dev['ratio_ok'] else '✗'} target {dev['ratio_target']}×), peak RSS {rss} "
            f"({'✓' if dev['rss_ok'] else '✗'} target +{dev['rss_target_bytes'] / 1e6:.0f} MB).",
            "",
        ]
    lines.append(COLD_END)
    return "\n".join(lines)


def _accuracy_note(sweep: dict, first: dict) -> str:
    """Where the accuracy column comes from: the recorded training run, on the machine of this run."""
    t = sweep.get("training") or {}
    acc = t.get("test_accuracy")
    run = (
        (
            f"the training run recorded in `benchmarks/artifacts/{t.get('file', 'model.keras')}.json` "
            f"({t.get('created', 'date not recorded')}; Keras test accuracy "
            f"{'?' if acc is None else f'{acc:.2%}'}, sha256 {str(t.get('sha256', '?'))[:12]})"
        )
        if t
        else "the training run in benchmarks/artifacts/"
    )
    return (
        f"Accuracy on the 10,000 test images of the artifacts exported from {run}, measured on "
        f"{first['machine']['cpu']}: the same seed gives the same weights on the same machine and software, "
        f"but another CPU or TensorFlow build rounds differently, so a fresh clone elsewhere lands a few "
        f"hundredths of a percent away."
    )


def replace_section(text: str, new: str, origin: str, start: str = START, end: str = END) -> str:
    starts, ends = text.count(start), text.count(end)
    if starts != 1 or ends != 1 or text.index(start) > text.index(end):
        raise Problem(
            f"{origin}: expected one {start} line followed by one {end} line "
            f"(found {starts} and {ends}); add them where the results go"
        )
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + new + tail


def browser_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/browser.md (written by benchmarks/browser.py from its JSON) between the browser markers; a run on a
    busy machine (browser.json's load averages, the same rule as the sweep's) is refused or, with allow_busy,
    marked."""
    path, record = results / "browser.md", _load(results / "browser.json", "edgemnist.browser/1")
    if not path.is_file() or record is None:
        raise Problem(f"{path} (and browser.json) not found; run python benchmarks/browser.py first")
    reasons = quiet_problems(
        "browser", _cores(record.get("machine")), record.get("loadavg_before"), record.get("foreign_load")
    )
    _refuse_busy(reasons, "browser", allow_busy)
    body = path.read_text(encoding="utf-8").strip()
    body = "\n".join(line for line in body.splitlines() if not line.startswith("## "))  # the doc has the heading
    lines = _generated(BROWSER_START, "benchmarks/results/browser.md")
    lines += _busy_note(reasons, "figures are pessimistic.")
    return "\n".join([*lines, body.strip(), "", BROWSER_END])


def peers_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/browser_peers.md between the browser-peers markers; a busy run is marked, not refused (its ratios
    and agreements are taken within one run)."""
    path, record = results / "browser_peers.md", _load(results / "browser_peers.json", "edgemnist.browser_peers/1")
    if not path.is_file() or record is None:
        raise Problem(f"{path} (and browser_peers.json) not found; run python benchmarks/browser.py --peers first")
    reasons = quiet_problems(
        "browser peers", _cores(record.get("machine")), record.get("loadavg_before"), record.get("foreign_load")
    )
    body = path.read_text(encoding="utf-8").strip()
    body = "\n".join(line for line in body.splitlines() if not line.startswith("## "))
    lines = _generated(PEERS_START, "benchmarks/results/browser_peers.md")
    lines += _busy_note(reasons, "absolute times are pessimistic; the ratios and agreements come from one run.")
    return "\n".join([*lines, body.strip(), "", PEERS_END])


def cortex_m4_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/cortex_m4.md (written by benchmarks/cortex_m4.py) between the cortex-m4 markers, followed by the C
    preprocessing's figures, results/preprocess_m4.md (benchmarks/preprocess_m4.py), when that file exists."""
    path = results / "cortex_m4.md"
    if not path.is_file():
        raise Problem(f"{path} not found; run python benchmarks/cortex_m4.py first")
    body = [path.read_text(encoding="utf-8").strip()]
    sources = "benchmarks/results/cortex_m4.md"
    pre = results / "preprocess_m4.md"
    if pre.is_file():
        body += ["", pre.read_text(encoding="utf-8").strip()]
        sources += " and preprocess_m4.md"
    return "\n".join([*_generated(M4_START, sources), *body, "", M4_END])


def aarch64_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/aarch64.md (written by benchmarks/aarch64.py) between the aarch64 markers: outputs and accuracy
    are what it compares; its times are under emulation and say so, so no load rule applies."""
    path = results / "aarch64.md"
    if not path.is_file():
        raise Problem(f"{path} not found; run python benchmarks/aarch64.py first")
    body = path.read_text(encoding="utf-8").strip()
    return "\n".join([*_generated(AARCH64_START, "benchmarks/results/aarch64.md"), body, "", AARCH64_END])


def _cores_file(results: Path, name: str) -> str:
    path = results / name
    if not path.is_file():
        raise Problem(f"{path} not found; run python benchmarks/cores.py first")
    return path.read_text(encoding="utf-8").strip()


def cores_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/cores.md (written by benchmarks/cores.py) between the cores markers of docs/c-kernel.md."""
    body = _cores_file(results, "cores.md")
    return "\n".join([*_generated(CORES_START, "benchmarks/results/cores.md"), body, "", CORES_END])


def cores_summary_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/cores_summary.md (benchmarks/cores.py) between the README's cores markers."""
    body = _cores_file(results, "cores_summary.md")
    return "\n".join([*_generated(CORES_START, "benchmarks/results/cores_summary.md"), body, "", CORES_END])


def fit_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """results/fit_budgets.md (written by benchmarks/fit_budgets.py) between the fit markers; instruction counts and
    sizes are deterministic, so no load rule applies. Until it has run, the section says how to fill it."""
    path = results / "fit_budgets.md"
    body = (
        path.read_text(encoding="utf-8").strip()
        if path.is_file()
        else "No results yet: run `python benchmarks/fit_budgets.py`, then this script."
    )
    return "\n".join([*_generated(FIT_START, "benchmarks/results/fit_budgets.md"), body, "", FIT_END])


def _weight_bits(results: Path, name: str, plot: str, more: str = "") -> str:
    path = results / name
    if not path.is_file():
        raise Problem(f"{path} not found; run python benchmarks/weight_bits.py first")
    body = path.read_text(encoding="utf-8").strip()
    return "\n".join(
        [
            *_generated(BITS_START, f"benchmarks/results/{name}"),
            body,
            "",
            f"Plot: [accuracy against bytes stored]({plot}).{more}",
            "",
            BITS_END,
        ]
    )


def weight_bits_summary_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """The README's weight-bits section: results/weight_bits_summary.md (one row per width, from
    benchmarks/weight_bits.py); accuracies, sizes and instruction counts, none a time, so no load rule applies."""
    more = " Every format at every width: [docs/c-kernel.md](docs/c-kernel.md#low-bit-weights)."
    return _weight_bits(results, "weight_bits_summary.md", "benchmarks/results/weight_bits.png", more)


def weight_bits_section(results: Path, doc: Path | None = None, allow_busy: bool = False) -> str:
    """docs/c-kernel.md's weight-bits section: results/weight_bits.md (every width x format)."""
    return _weight_bits(results, "weight_bits.md", "../benchmarks/results/weight_bits.png")


#: Every generated section: (file relative to the docs folder, or None for the README; markers; builder).
SECTIONS = (
    (None, START, END, section),
    (None, CORES_START, CORES_END, cores_summary_section),
    (None, BITS_START, BITS_END, weight_bits_summary_section),
    ("benchmarks.md", COLD_START, COLD_END, cold_section),
    ("web.md", BROWSER_START, BROWSER_END, browser_section),
    ("benchmarks.md", PEERS_START, PEERS_END, peers_section),
    ("c-kernel.md", M4_START, M4_END, cortex_m4_section),
    ("device-installs.md", AARCH64_START, AARCH64_END, aarch64_section),
    ("c-kernel.md", CORES_START, CORES_END, cores_section),
    ("fit.md", FIT_START, FIT_END, fit_section),
    ("c-kernel.md", BITS_START, BITS_END, weight_bits_section),
)


def updated_files(readme: Path, docs: Path, results: Path, allow_busy: bool = False) -> dict[Path, tuple[str, str]]:
    """{file: (text now, text with its generated sections rewritten)} for the README and the docs files that exist."""
    out: dict[Path, tuple[str, str]] = {}
    for name, start, end, build in SECTIONS:
        path = readme if name is None else docs / name
        if name is not None and not path.is_file():
            continue
        before, text = out.get(path) or (path.read_text(encoding="utf-8"),) * 2
        if name is None and start != START and start not in text:
            continue  # the README's optional sections (cores) are filled when it has their markers
        out[path] = (before, replace_section(text, build(results, path, allow_busy), str(path), start, end))
    return out


def main(argv=None) -> int:
    from edgemnist.fileio import atomic_write_text

    args = parse_args(argv)
    if not args.readme.is_file():
        print(f"error: {args.readme}: no such file", file=sys.stderr)
        return 2
    try:
        files = updated_files(args.readme, args.docs or args.readme.parent / "docs", args.results, args.allow_busy)
    except Problem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = [path for path, (before, after) in files.items() if before != after]
    if args.check:
        for path in stale:
            print(
                f"{path}: a generated section is out of date; run python benchmarks/update_readme.py", file=sys.stderr
            )
        return 1 if stale else 0
    for path in stale:
        mode = path.stat().st_mode & 0o777
        atomic_write_text(path, files[path][1])
        os.chmod(path, mode)  # the atomic temporary is created 0600
        print(f"updated {path}")
    if not stale:
        print(f"{', '.join(map(str, files))}: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
