"""What ``edgemnist fit`` shows and writes, rendered from the search's results only: the table, Markdown, JSON and
the Pareto plot (accuracy against flash, the budget drawn)."""

from __future__ import annotations

from pathlib import Path

from edgemnist.fit.search import Budget, Result, Search, search_record, select

HEADER = ("config", "accuracy", "flash (text)", "RAM", "instr./inference", "fits", "passes", "note")


def _n(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def row(r: Result, budget: Budget, chosen: Result | None = None) -> list[str]:
    from edgemnist.safetext import safe

    measured = r.status == "ok"
    note = "chosen" if chosen is not None and r.candidate == chosen.candidate else (r.status if not measured else "")
    if r.status == "failed" and r.note:
        note = f"failed: {safe(r.note, 60)}"
    return [
        r.candidate.label,
        f"{r.accuracy:.2%}" if r.accuracy is not None else "-",
        f"{_n(r.text_bytes)} B" if measured else "-",
        f"{_n(r.ram_bytes)} B" if measured else "-",
        _n(r.instructions),
        ("yes" if r.fits(budget) else "no") if measured else "-",
        ("yes" if r.passes else "no") if measured else "-",
        note,
    ]


def rich_table(search: Search):
    from rich.table import Table

    b = search.budget
    t = Table(title=f"fit on {b.target}: flash {b.flash_bytes:,} B, RAM {b.ram_bytes:,} B")
    for i, h in enumerate(HEADER):
        t.add_column(h, justify="left" if i in (0, 7) else "right")
    for r in search.results:
        t.add_row(*row(r, b, search.winner))
    return t


def markdown(search: Search) -> str:
    b, s, w = search.budget, search.settings, search.winner
    lines = [
        f"Budget on {b.target}: flash (text) {b.flash_bytes:,} B, RAM (data + bss + stack) {b.ram_bytes:,} B; "
        f"{s.epochs} epochs, seed {s.seed}, {s.images:,} images under the emulator.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row(r, b, w)) + " |" for r in search.results]
    lines.append("")
    if w:
        lines.append(f"Chosen: **{w.candidate.label}**, {w.accuracy:.2%}, {w.text_bytes:,} B text.")
    else:
        lines.append("Chosen: nothing fits and passes.")
    return "\n".join(lines) + "\n"


def write_json(search: Search, path) -> Path:
    from edgemnist.fileio import atomic_write_json

    return atomic_write_json(path, search_record(search))


def write_markdown(search: Search, path) -> Path:
    from edgemnist.fileio import atomic_write_text

    return atomic_write_text(path, markdown(search))


def plot(search: Search, path) -> Path:
    """Accuracy vs flash of every measured candidate, the Pareto front joined, the flash budget a vertical line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgemnist.fileio import atomic_path

    b = search.budget
    ok = [r for r in search.results if r.status == "ok"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for bits, marker in ((8, "o"), (4, "s"), (2, "^")):
        pts = [r for r in ok if r.candidate.bits == bits]
        if pts:
            ax.scatter(
                [r.text_bytes / 1024 for r in pts],
                [100 * r.accuracy for r in pts],
                marker=marker,
                label=f"{bits}-bit hidden weights",
            )
    for r in ok:
        ax.annotate(
            ",".join(map(str, r.candidate.hidden)),
            (r.text_bytes / 1024, 100 * r.accuracy),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    front, best = [], -1.0
    for r in sorted(ok, key=lambda r: (r.text_bytes, -r.accuracy)):
        if r.accuracy > best:
            front.append(r)
            best = r.accuracy
    if front:
        ax.plot(
            [r.text_bytes / 1024 for r in front], [100 * r.accuracy for r in front], "k--", lw=0.8, label="Pareto front"
        )
    ax.axvline(b.flash_bytes / 1024, color="red", lw=1, label=f"flash budget {b.flash_bytes / 1024:g} KiB")
    floors = {r.floor for r in ok if r.floor is not None}
    if len(floors) == 1:
        ax.axhline(100 * floors.pop(), color="grey", lw=0.8, ls=":", label="accuracy gate")
    ax.set_xlabel("firmware text (KiB)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"edgemnist fit on {b.target}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


__all__ = ["markdown", "plot", "rich_table", "row", "select", "write_json", "write_markdown"]
