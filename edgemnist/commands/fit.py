"""edgemnist fit"""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_data_dir, add_tolerance, nonneg_int, positive_int

DEFAULT_OUT = "export/fit"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from edgemnist.fit.grid import DEFAULT_BITS, DEFAULT_HIDDEN
    from edgemnist.fit.search import Settings

    d = Settings()
    grid = " ".join(",".join(map(str, h)) for h in DEFAULT_HIDDEN)
    p.add_argument("--target", default=d.target, help=f"firmware build target (default {d.target})")
    p.add_argument(
        "--flash",
        metavar="SIZE",
        help="flash budget for the firmware text: 65536, 64K (KiB), 64kB; default: the target's flash",
    )
    p.add_argument("--ram", metavar="SIZE", help="RAM budget for data + bss + peak stack; default: the target's RAM")
    p.add_argument(
        "--grid", metavar="STACKS", help=f"hidden stacks to try, separated by spaces or ';' (default '{grid}')"
    )
    p.add_argument(
        "--bits",
        metavar="B[,B...]",
        help=f"hidden-weight bits to try (default "
        f"{','.join(map(str, DEFAULT_BITS))}; a width the C exporter refuses is reported as not supported)",
    )
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help=f"training epochs (default {d.epochs})")
    p.add_argument(
        "--seed", type=nonneg_int, default=d.seed, help=f"training seed of every candidate (default {d.seed})"
    )
    p.add_argument(
        "--images",
        type=positive_int,
        default=d.images,
        help=f"test images run under the emulator per candidate (default {d.images})",
    )
    p.add_argument("--jobs", type=positive_int, help="candidates measured in parallel (default: one per core)")
    p.add_argument("--max-minutes", type=float, metavar="M", help="start no new candidate after M minutes")
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"where the chosen model goes (default {DEFAULT_OUT}/)"
    )
    p.add_argument("--markdown", metavar="FILE", help="also write the results as Markdown")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--plot", metavar="PNG", help="the Pareto plot (default OUT/pareto.png)")
    p.add_argument("--dry-run", action="store_true", help="list the grid and exit")
    add_data_dir(p)
    add_tolerance(p)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from edgemnist import spec
    from edgemnist.errors import ConfigError
    from edgemnist.fit import report
    from edgemnist.fit.grid import candidates, parse_bits, parse_grid
    from edgemnist.fit.search import (
        Budget,
        NothingFitsError,
        Settings,
        check_target,
        export_winner,
        nothing_fits,
        run_search,
    )
    from edgemnist.units import parse_size

    target = check_target(args.target)
    flash = parse_size(args.flash) if args.flash else target.flash_bytes
    ram = parse_size(args.ram) if args.ram else target.ram_bytes
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ConfigError(f"--max-minutes: expected a positive number of minutes, got {args.max_minutes}")
    spec.accuracy_floor(args.tolerance)
    grid = candidates(parse_grid(args.grid), parse_bits(args.bits))
    budget = Budget(target.name, flash, ram)
    settings = Settings(
        target=target.name,
        epochs=args.epochs,
        seed=args.seed,
        images=args.images,
        tolerance=args.tolerance,
        data_dir=args.data_dir,
    )
    if args.dry_run:
        print(f"{len(grid)} candidates for {target.name} (flash {flash:,} B, RAM {ram:,} B), {args.epochs} epochs:")
        for c in grid:
            print(f"  {c.label}")
        return 0
    console = Console(width=None if sys.stdout.isatty() else 120)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("measuring candidates", total=len(grid))
        search = run_search(
            grid, budget, settings, jobs=args.jobs, max_minutes=args.max_minutes, progress=lambda r: bar.advance(task)
        )
    console.print(report.rich_table(search))
    if search.stopped_early:
        print(
            f"stopped after {args.max_minutes:g} minutes: {sum(r.status == 'not run' for r in search.results)} "
            "candidates not run"
        )
    out = Path(args.out)
    for path, write in ((args.json, report.write_json), (args.markdown, report.write_markdown)):
        if path:
            print(f"wrote {write(search, path)}")
    w = search.winner
    if w is None:
        raise NothingFitsError(nothing_fits(search.results, budget))
    manifest = export_winner(search, out)
    print(f"wrote {report.plot(search, args.plot or out / 'pareto.png')}")
    print(
        f"chosen: {w.candidate.label}, accuracy {w.accuracy:.2%}, text {w.text_bytes:,} B, RAM {w.ram_bytes:,} B, "
        f"{w.instructions:,.0f} instructions per inference -> {manifest.parent}/ ({manifest.name})"
    )
    return 0
