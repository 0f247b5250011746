"""Tables, Markdown and plots of benchmark reports.

Everything here works on the plain data of ``BenchReport.to_dict()`` (what ``--json`` writes), so a report
can be re-rendered from its JSON file (``benchmarks/update_readme.py`` does). Plots use matplotlib's
object API with the Agg canvas (no pyplot, no global backend), imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgemnist import spec
from edgemnist.bench import OVERHEAD_TARGET
from edgemnist.bench_timing import RUNTIME_DISTS
from edgemnist.errors import ConfigError

# ============================================================================== numbers


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def fmt_ips(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, k in (("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def measurement(d: dict, subject: str, batch: int = 1) -> dict | None:
    """The measurement of ``subject`` ("predictor", "raw", "keras.call", "keras.predict") at ``batch``."""
    return next((m for m in d.get("measurements", []) if m["subject"] == subject and m["batch"] == batch), None)


def latency(d: dict, subject: str, key: str = "p50", batch: int = 1) -> float | None:
    m = measurement(d, subject, batch)
    return None if m is None else m["latency_ms"][key]


def fmt_overhead(a: dict) -> str:
    """An artifact's predictor/raw batch-1 p50 ratio, flagged: ``1.08 ✓`` within ``OVERHEAD_TARGET``, else ✗."""
    over = a.get("overhead")
    return "-" if over is None else f"{over['p50_ratio']:.2f} {'✓' if over['within_target'] else '✗'}"


def overhead_line(report: dict) -> str:
    """Every artifact's predictor overhead against the target, on one line."""
    parts = [f"{short_name(a['name'])} {fmt_overhead(a)}" for a in report["artifacts"] if a.get("overhead")]
    return (f"predictor overhead (batch-1 p50 / raw runtime p50, target ≤ {OVERHEAD_TARGET}): "
            + (", ".join(parts) if parts else "not measured (no raw loop)"))


def short_name(name: str) -> str:
    """``model.int8.tflite`` -> ``int8.tflite`` (plot labels)."""
    return name[len("model."):] if name.startswith("model.") else name


# ============================================================================== tables


def summary_table(report: dict, *, threads_column: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows (strings) of the artifacts table: the terminal, Markdown and the README share it."""
    batches = list(report["config"]["batch_sizes"])
    keras = report.get("keras")
    keras_p50 = latency(keras, "keras.call") if keras else None
    header = ["artifact", *(["threads"] if threads_column else []), "size", "accuracy", "load ms", "1st ms",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "raw p50", "×raw", *(f"img/s b{b}" for b in batches),
              *(["×Keras"] if keras_p50 else []), "load RSS"]
    rows = []
    for a in report["artifacts"]:
        acc = "-" if a["accuracy"] is None else f"{a['accuracy']:.2%}" + (
            "" if a["accuracy_source"] == "measured" else "*")
        size = fmt_bytes(a["size_bytes"]) + (
            "" if a["deploy_bytes"] == a["size_bytes"] else f" ({fmt_bytes(a['deploy_bytes'])})")
        p50 = latency(a, "predictor")
        row = [a["name"], *([str(a["threads"])] if threads_column else []), size, acc, fmt_ms(a["load_ms"]),
               fmt_ms(a["first_inference_ms"]), fmt_ms(p50), fmt_ms(latency(a, "predictor", "p90")),
               fmt_ms(latency(a, "predictor", "p99")), fmt_ms(latency(a, "predictor", "max")),
               fmt_ms(latency(a, "raw")), fmt_overhead(a)]
        for b in batches:
            m = measurement(a, "predictor", b)
            row.append(fmt_ips(m["images_per_s"]) if m else "-")
        if keras_p50:
            row.append(f"{keras_p50 / p50:.1f}" if p50 else "-")
        row.append(fmt_bytes(a["memory"].get("load_rss_increase_bytes")))
        rows.append(row)
    return header, rows


def keras_table(report: dict) -> tuple[list[str], list[list[str]]] | None:
    k = report.get("keras")
    if not k:
        return None
    header = ["Keras baseline", "batch", "runs", "p50 ms", "p90 ms", "p99 ms", "max ms", "img/s"]
    rows = []
    for m in k["measurements"]:
        lat = m["latency_ms"]
        rows.append([m["method"], str(m["batch"]), str(m["runs"]), fmt_ms(lat["p50"]), fmt_ms(lat["p90"]),
                     fmt_ms(lat["p99"]), fmt_ms(lat["max"]), fmt_ips(m["images_per_s"])])
    return header, rows


def machine_line(report: dict) -> str:
    m = report["machine"]
    v = m.get("versions", {})
    runtimes = ", ".join(f"{k} {v[k]}" for k in ("numpy", *RUNTIME_DISTS) if k in v)
    env = ", ".join(f"{k}={val}" for k, val in m.get("thread_env", {}).items()) or "no thread env vars set"
    load = m.get("load_average")
    return (f"{m['cpu']}, {m['logical_cores']} logical cores ({m.get('usable_cores')} usable), {m['os']}, "
            f"{m['python']}; {runtimes}; {env}; load average {load[0] if load else '?'} at start")


def settings_line(report: dict) -> str:
    c = report["config"]
    peak = (report.get("memory") or {}).get("peak_rss_bytes")
    return (f"threads {c['threads']}, warm-up {c['warmup']} calls, at least {c['min_time']:g} s and "
            f"{c['min_runs']} images per measurement, batch sizes {', '.join(map(str, c['batch_sizes']))}; "
            f"wall time {report['wall_seconds']:.1f} s; peak RSS of the whole bench process {fmt_bytes(peak)}")


LEGEND = ("p50/p90/p99/max: batch-1 `Predictor.predict_proba` latency per call after warm-up; raw p50: the "
          "runtime driven directly on the same images; ×raw: predictor p50 / raw p50 (✓ within the "
          f"{OVERHEAD_TARGET} target, ✗ above); ×Keras: Keras `model(x)` p50 / artifact p50; accuracy * = from the verified "
          "manifest; size in parentheses: the flatbuffer a device flashes; img/s bN: throughput at batch N; "
          "load RSS: RSS growth from loading one more instance (runtime already imported).")


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(r) + " |" for r in rows)]


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     .rstrip() for row in [header, *rows])


def notes(report: dict) -> list[str]:
    out = [f"{a['name']}: {n}" for a in report["artifacts"] for n in a["notes"]]
    return out + list(report["notes"]) + list((report.get("keras") or {}).get("notes") or [])


def markdown(reports: Sequence[dict], *, title: str | None = "edgemnist bench", heading: str = "##") -> str:
    """A Markdown report of one or more runs (e.g. threads 1 and 2): date and machine first."""
    reports = list(reports)
    if not reports:
        raise ConfigError("no reports to render")
    first = reports[0]
    lines = [f"{heading} {title}", ""] if title else []
    lines += [f"Measured {first['created']} on {machine_line(first)}.", ""]
    multi = len(reports) > 1
    for r in reports:
        if multi:
            lines += [f"{heading}# threads = {r['config']['threads']}", ""]
        lines += [f"Settings: {settings_line(r)}.", ""]
        lines += md_table(*summary_table(r))
        lines += ["", overhead_line(r) + "."]
        kt = keras_table(r)
        if kt:
            lines += ["", *md_table(*kt), "",
                      f"Keras intra-op threads: {r['keras']['intra_op_threads']} (0 = TensorFlow's default, all cores)."]
        extra = notes(r)
        if extra:
            lines += ["", *(f"- {n}" for n in extra)]
        lines.append("")
    lines += [LEGEND, ""]
    return "\n".join(lines)


# ============================================================================== plots

_MARKERS = ("o", "s", "^", "D", "v", "P")


def _marker(fmt: str) -> str:
    from edgemnist.formats import FORMATS

    names = list(FORMATS)
    return _MARKERS[names.index(fmt) % len(_MARKERS)] if fmt in names else "*"


def _colors(reports: Sequence[dict]) -> dict[str, str]:
    """One color per artifact name, the same in every panel."""
    names = list(dict.fromkeys(a["name"] for r in reports for a in r["artifacts"]))
    palette = "tab10" if len(names) <= 10 else "tab20"
    from matplotlib import colormaps

    cmap = colormaps[palette]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _figure(size: tuple[float, float]):
    from edgemnist._deps import require

    require("matplotlib", "train")
    from matplotlib.figure import Figure  # no pyplot: no global backend; savefig uses the Agg canvas

    return Figure(figsize=size, dpi=110, layout="constrained")


def _save(fig, path: str | Path) -> Path:
    from edgemnist.fileio import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _place_labels(ax, points: list[tuple[float, float, str, float]], fontsize: float = 7.0) -> None:
    """Annotate each (x, y, text, marker area) beside its marker, moving labels off other labels and markers."""
    if not points:
        return
    ax.autoscale_view()
    to_pt = 72.0 / ax.figure.dpi
    h = fontsize * 1.25
    placed = []
    for x, y, _text, area in points:  # markers are obstacles too
        px, py = (v * to_pt for v in ax.transData.transform((x, y)))
        r = area ** 0.5 / 2
        placed.append((px, py, r, (px - r, py - r, px + r, py + r)))
    boxes = [p[3] for p in placed]

    frame = ax.get_window_extent()
    x0, y0, x1, y1 = (v * to_pt for v in (frame.x0, frame.y0, frame.x1, frame.y1))

    def free(box):
        inside = box[0] >= x0 + 2 and box[2] <= x1 - 2 and box[1] >= y0 + 2 and box[3] <= y1 - 2
        return inside and all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes)

    for (x, y, text, _area), (px, py, r, _box) in sorted(zip(points, placed, strict=True), key=lambda p: (p[0][0], -p[0][1])):
        w = 0.56 * fontsize * len(text)
        candidates = []
        for step in range(10):
            lift = step * h
            candidates += [(r + 2, -h / 2 + lift), (r + 2, -h / 2 - lift), (-r - 2 - w, -h / 2 + lift),
                           (-r - 2 - w, -h / 2 - lift), (-w / 2, r + 2 + lift), (-w / 2, -r - 2 - h - lift)]
        dx, dy = next(((dx, dy) for dx, dy in candidates
                       if free((px + dx, py + dy, px + dx + w, py + dy + h))), candidates[0])
        boxes.append((px + dx, py + dy, px + dx + w, py + dy + h))
        far = abs(dy + h / 2) > r + h
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    va="bottom", ha="left",
                    arrowprops=dict(arrowstyle="-", lw=0.5, color="gray", shrinkA=0, shrinkB=r) if far else None)


def _tradeoff_axes(ax, reports: Sequence[dict], colors: dict) -> None:
    multi = len(reports) > 1
    sizes = [a["deploy_bytes"] for r in reports for a in r["artifacts"]] or [1]
    scale = 1000.0 / max(sizes)
    labels = []
    for k, r in enumerate(reports):
        t = r["config"]["threads"]
        suffix = f" ({t}t)" if multi else ""
        for a in r["artifacts"]:
            p50 = latency(a, "predictor")
            if p50 is None or a["accuracy"] is None:
                continue
            color = colors[a["name"]]
            area = max(25.0, a["deploy_bytes"] * scale)
            ax.scatter(p50, 100 * a["accuracy"], s=area, marker=_marker(a["format"]),
                       facecolors=color if k == 0 else "none", edgecolors=color if k else "black",
                       linewidths=0.6 if k == 0 else 1.4, alpha=0.6 if k == 0 else 0.9)
            labels.append((p50, 100 * a["accuracy"], short_name(a["name"]) + suffix, area))
        keras = r.get("keras")
        x = latency(keras, "keras.call") if keras else None
        if x is not None and keras.get("accuracy") is not None:
            ax.scatter(x, 100 * keras["accuracy"], s=70, marker="X", color="black")
            labels.append((x, 100 * keras["accuracy"], "Keras model(x)" + suffix, 70.0))
    ax.set_xscale("log")
    ax.axhline(100 * spec.REFERENCE_ACCURACY, color="gray", lw=0.8, ls=":")
    ax.text(0.01, 100 * spec.REFERENCE_ACCURACY, f" reference {spec.REFERENCE_ACCURACY:.2%}", fontsize=7,
            color="gray", va="bottom", transform=ax.get_yaxis_transform())
    ax.margins(x=0.15, y=0.12)
    _place_labels(ax, labels)
    ax.set_xlabel("batch-1 p50 latency per image (ms, log scale)")
    ax.set_ylabel("test accuracy (%)")
    title = "accuracy vs latency; marker area ∝ deployed size"
    if multi:
        title += "; filled: " + ", hollow: ".join(f"{r['config']['threads']} thread(s)" for r in reports[:2])
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)


def _cdf_axes(ax, report: dict, colors: dict, *, title: str) -> None:
    for a in report["artifacts"]:
        color = colors[a["name"]]
        for subject, style, lw, label in (("predictor", "-", 1.5, short_name(a["name"])), ("raw", ":", 1.0, None)):
            m = measurement(a, subject, 1)
            if m is None or not m.get("cdf"):
                continue
            ax.step(m["cdf"]["ms"], m["cdf"]["q"], where="post", ls=style, lw=lw,
                    color=color, label=label)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("batch-1 latency per call (ms, log scale)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")


def _stamp(fig, report: dict) -> None:
    fig.suptitle(f"edgemnist bench {report['created']}: {report['machine']['cpu']}, "
                 f"{report['machine']['usable_cores']} usable cores", fontsize=8)


def plot_tradeoff(reports: Sequence[dict], path: str | Path) -> Path:
    """Accuracy vs batch-1 p50 latency, marker area ∝ deployed size, every point labelled."""
    reports = list(reports)
    fig = _figure((8.0, 5.5))
    _tradeoff_axes(fig.add_subplot(), reports, _colors(reports))
    _stamp(fig, reports[0])
    return _save(fig, path)


def plot_cdf(reports: Sequence[dict], path: str | Path) -> Path:
    """Batch-1 latency CDF per artifact (solid: Predictor, dotted: raw runtime), one panel per report."""
    reports = list(reports)
    colors = _colors(reports)
    fig = _figure((7.0 * len(reports), 5.0))
    for ax, r in zip(fig.subplots(1, len(reports), squeeze=False)[0], reports, strict=True):
        _cdf_axes(ax, r, colors, title=f"batch-1 latency CDF, threads={r['config']['threads']} "
                                       f"(solid: Predictor, dotted: raw runtime)")
    _stamp(fig, reports[0])
    return _save(fig, path)


def plot(report: dict, path: str | Path) -> Path:
    """``edgemnist bench --plot``: one PNG, two panels (trade-off and latency CDF)."""
    colors = _colors([report])
    fig = _figure((15.0, 5.6))
    left, right = fig.subplots(1, 2)
    _tradeoff_axes(left, [report], colors)
    _cdf_axes(right, report, colors, title=f"batch-1 latency CDF, threads={report['config']['threads']} "
                                           f"(solid: Predictor, dotted: raw runtime)")
    _stamp(fig, report)
    return _save(fig, path)


__all__ = [
    "LEGEND", "fmt_bytes", "fmt_ips", "fmt_ms", "fmt_overhead", "keras_table", "latency", "machine_line",
    "markdown", "md_table", "measurement", "notes", "overhead_line", "plain_table", "plot", "plot_cdf",
    "plot_tradeoff", "settings_line", "short_name", "summary_table",
]
