"""``edgemnist bench`` in a terminal: a progress bar and colored tables (rich when installed, plain text else),
rendered from the report's JSON data (``edgemnist.bench.render``)."""

from __future__ import annotations

from edgemnist.bench import render


class ProgressBar:
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
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
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


def print_tables(report: dict) -> None:
    """The report's tables and footer lines on stdout."""
    tables = [(None, *render.summary_table(report))]
    kt = render.keras_table(report)
    if kt:
        tables.append(("Keras baseline", *kt))
    hp = render.host_peers_table(report)
    if hp:
        tables.append(("Host peers (batch 1, same run)", *hp))
    footer = [
        f"machine: {render.machine_line(report)}",
        f"settings: {render.settings_line(report)}",
        render.overhead_line(report),
        *filter(None, [render.host_peers_footer(report)]),
        *(f"note: {n}" for n in render.notes(report)),
        render.legend(report),
    ]
    print_titled(tables, footer)


def print_cortex_m4(report: dict) -> None:
    """A ``bench --target cortex-m4`` report as a table (rich when installed) under its title line, with its
    footer lines."""
    print_titled(
        [(None, *render.cortex_m4_table(report))],
        render.cortex_m4_footer(report),
        heading=render.cortex_m4_title(report),
    )


#: Columns of the output when stdout is not a terminal (a file, a pipe): what every screen of edgemnist fits.
COLUMNS = 100


def wrap(line: str, width: int = COLUMNS) -> list[str]:
    """A footer line cut at spaces to ``width`` columns, continuation lines indented by two."""
    import textwrap

    return textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False) or [""]


def print_titled(
    tables: list[tuple[str | None, list[str], list[list[str]]]], footer: list[str], *, heading: str | None = None
) -> None:
    """A heading line, ``(title, header, rows)`` tables, then footer lines, on stdout: rich tables split to the
    terminal's width (``COLUMNS`` when stdout is not a terminal), plain text without rich; every line wrapped
    to that width."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        if heading:
            print("\n".join(wrap(heading)))
        for title, header, rows in tables:
            if title:
                print(title)
            print(render.plain_table(header, rows))
            print()
        print("\n".join(part for line in footer for part in wrap(line)))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=COLUMNS)
    width = min(console.width, COLUMNS)
    if heading:
        for part in wrap(heading, width):
            console.print(part, highlight=False, markup=False)
    for title, header, rows in tables:
        for group, columns in enumerate(_column_groups(header, rows, width)):
            table = Table(title=None if group else title, title_justify="left")  # a wide table's title once
            for i in columns:
                table.add_column(header[i], justify="left" if i == 0 else "right", no_wrap=True)
            for row in rows:
                table.add_row(*[_color(row[i]) for i in columns])
            console.print(table)
    for line in footer:
        for part in wrap(line, width):
            console.print(part, highlight=False, markup=False, soft_wrap=True)
