"""Plots of benchmark reports: accuracy vs latency, and latency CDFs, from the JSON data alone.

matplotlib's object API with the Agg canvas (no pyplot, no global backend), imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgemnist import spec
from edgemnist.bench.render import latency, measurement, short_name

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
        r = area**0.5 / 2
        placed.append((px, py, r, (px - r, py - r, px + r, py + r)))
    boxes = [p[3] for p in placed]

    frame = ax.get_window_extent()
    x0, y0, x1, y1 = (v * to_pt for v in (frame.x0, frame.y0, frame.x1, frame.y1))

    def free(box):
        inside = box[0] >= x0 + 2 and box[2] <= x1 - 2 and box[1] >= y0 + 2 and box[3] <= y1 - 2
        return inside and all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes)

    for (x, y, text, _area), (px, py, r, _box) in sorted(
        zip(points, placed, strict=True), key=lambda p: (p[0][0], -p[0][1])
    ):
        w = 0.56 * fontsize * len(text)
        candidates = []
        for step in range(10):
            lift = step * h
            candidates += [
                (r + 2, -h / 2 + lift),
                (r + 2, -h / 2 - lift),
                (-r - 2 - w, -h / 2 + lift),
                (-r - 2 - w, -h / 2 - lift),
                (-w / 2, r + 2 + lift),
                (-w / 2, -r - 2 - h - lift),
            ]
        dx, dy = next(
            ((dx, dy) for dx, dy in candidates if free((px + dx, py + dy, px + dx + w, py + dy + h))), candidates[0]
        )
        boxes.append((px + dx, py + dy, px + dx + w, py + dy + h))
        far = abs(dy + h / 2) > r + h
        ax.annotate(
            text,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            va="bottom",
            ha="left",
            arrowprops=dict(arrowstyle="-", lw=0.5, color="gray", shrinkA=0, shrinkB=r) if far else None,
        )


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
            ax.scatter(
                p50,
                100 * a["accuracy"],
                s=area,
                marker=_marker(a["format"]),
                facecolors=color if k == 0 else "none",
                edgecolors=color if k else "black",
                linewidths=0.6 if k == 0 else 1.4,
                alpha=0.6 if k == 0 else 0.9,
            )
            labels.append((p50, 100 * a["accuracy"], short_name(a["name"]) + suffix, area))
        keras = r.get("keras")
        x = latency(keras, "keras.call") if keras else None
        if x is not None and keras.get("accuracy") is not None:
            ax.scatter(x, 100 * keras["accuracy"], s=70, marker="X", color="black")
            labels.append((x, 100 * keras["accuracy"], "Keras model(x)" + suffix, 70.0))
    ax.set_xscale("log")
    ax.axhline(100 * spec.REFERENCE_ACCURACY, color="gray", lw=0.8, ls=":")
    ax.text(
        0.01,
        100 * spec.REFERENCE_ACCURACY,
        f" reference {spec.REFERENCE_ACCURACY:.2%}",
        fontsize=7,
        color="gray",
        va="bottom",
        transform=ax.get_yaxis_transform(),
    )
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
            ax.step(m["cdf"]["ms"], m["cdf"]["q"], where="post", ls=style, lw=lw, color=color, label=label)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("batch-1 latency per call (ms, log scale)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")


def _stamp(fig, report: dict) -> None:
    fig.suptitle(
        f"edgemnist bench {report['created']}: {report['machine']['cpu']}, "
        f"{report['machine']['usable_cores']} usable cores",
        fontsize=8,
    )


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
        _cdf_axes(
            ax,
            r,
            colors,
            title=f"batch-1 latency CDF, threads={r['config']['threads']} (solid: Predictor, dotted: raw runtime)",
        )
    _stamp(fig, reports[0])
    return _save(fig, path)


def plot(report: dict, path: str | Path) -> Path:
    """``edgemnist bench --plot``: one PNG, two panels (trade-off and latency CDF)."""
    colors = _colors([report])
    fig = _figure((15.0, 5.6))
    left, right = fig.subplots(1, 2)
    _tradeoff_axes(left, [report], colors)
    _cdf_axes(
        right,
        report,
        colors,
        title=f"batch-1 latency CDF, threads={report['config']['threads']} (solid: Predictor, dotted: raw runtime)",
    )
    _stamp(fig, report)
    return _save(fig, path)


__all__ = ["plot", "plot_cdf", "plot_tradeoff"]
