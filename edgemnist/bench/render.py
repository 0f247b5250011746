"""Tables, Markdown and plots of benchmark reports.

Everything here works on the plain data of ``BenchReport.to_dict()`` (what ``--json`` writes) and on nothing
else -- not even the bench's constants: the overhead target and the runtime versions are read from the report,
so a report re-rendered from an old JSON file (``benchmarks/update_readme.py`` does) says what it measured.
Plots are ``edgemnist.bench.plot``'s; terminal tables ``edgemnist.bench.terminal``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """Process memory (RSS): ``edgemnist.units.memory_text``, always MB. Model sizes: ``fmt_size``."""
    from edgemnist.units import memory_text

    return memory_text(n)


def fmt_size(n: int | None) -> str:
    """A model size (the bytes a device stores): ``edgemnist.units.size_text``, always kB."""
    from edgemnist.units import size_text

    return size_text(n)


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


def overhead_target(report: dict) -> float | str:
    """The predictor-overhead target the report was measured against, as each artifact's ``overhead`` records
    it ("?" when no artifact was measured against its raw loop)."""
    return next((a["overhead"]["target_p50_ratio"] for a in report.get("artifacts", []) if a.get("overhead")), "?")


def overhead_line(report: dict) -> str:
    """Every artifact's predictor overhead against the target, on one line."""
    parts = [f"{short_name(a['name'])} {fmt_overhead(a)}" for a in report["artifacts"] if a.get("overhead")]
    return f"predictor overhead (batch-1 p50 / raw runtime p50, target ≤ {overhead_target(report)}): " + (
        ", ".join(parts) if parts else "not measured (no raw loop)"
    )


def short_name(name: str) -> str:
    """``model.int8.tflite`` -> ``int8.tflite`` (plot labels)."""
    return name[len("model.") :] if name.startswith("model.") else name


# ============================================================================== tables


def summary_table(report: dict, *, threads_column: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows (strings) of the artifacts table: the terminal, Markdown and the README share it."""
    batches = list(report["config"]["batch_sizes"])
    keras = report.get("keras")
    keras_p50 = latency(keras, "keras.call") if keras else None
    header = [
        "artifact",
        *(["threads"] if threads_column else []),
        "model size",
        "accuracy",
        "load ms",
        "1st ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "raw p50",
        "×raw",
        *(f"img/s b{b}" for b in batches),
        *(["×Keras"] if keras_p50 else []),
        "load RSS",
    ]
    rows = []
    for a in report["artifacts"]:
        acc = (
            "-"
            if a["accuracy"] is None
            else f"{a['accuracy']:.2%}" + ("" if a["accuracy_source"] == "measured" else "*")
        )
        size = fmt_size(a["deploy_bytes"])
        p50 = latency(a, "predictor")
        row = [
            a["name"],
            *([str(a["threads"])] if threads_column else []),
            size,
            acc,
            fmt_ms(a["load_ms"]),
            fmt_ms(a["first_inference_ms"]),
            fmt_ms(p50),
            fmt_ms(latency(a, "predictor", "p90")),
            fmt_ms(latency(a, "predictor", "p99")),
            fmt_ms(latency(a, "predictor", "max")),
            fmt_ms(latency(a, "raw")),
            fmt_overhead(a),
        ]
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
    header = ["method", "batch", "runs", "p50 ms", "p90 ms", "p99 ms", "max ms", "img/s"]  # titled "Keras baseline"
    rows = []
    for m in k["measurements"]:
        lat = m["latency_ms"]
        rows.append(
            [
                m["method"],
                str(m["batch"]),
                str(m["runs"]),
                fmt_ms(lat["p50"]),
                fmt_ms(lat["p90"]),
                fmt_ms(lat["p99"]),
                fmt_ms(lat["max"]),
                fmt_ips(m["images_per_s"]),
            ]
        )
    return header, rows


#: What a raw loop of each format drives, named for the host-peers table.
RAW_NAMES = {"tflite": "LiteRT", "onnx": "ONNX Runtime", "micro": "TFLite Micro (tflite-micro Python interpreter)"}


def host_peers_table(report: dict) -> tuple[list[str], list[list[str]]] | None:
    """The C kernel's host build beside the other runtimes of the same run, batch 1: the bare C loop (no Python),
    the C kernel through the Predictor, and every int8 artifact's raw runtime loop, each with its in-process load
    and first inference and its p50 over the bare C loop's. None without a C artifact timed natively."""
    c = next((a for a in report["artifacts"] if a.get("native")), None)
    if c is None:
        return None
    base = c["native"]["latency_ms"]["p50"]
    header = ["runtime", "artifact", "p50 ms", "p99 ms", "× bare C p50", "load ms", "1st inference ms"]

    def ratio(p50):
        return "-" if p50 is None or not base else f"{p50 / base:.2f}"

    nat = c["native"]["latency_ms"]
    rows = [["C kernel, bare C loop", c["name"], fmt_ms(nat["p50"]), fmt_ms(nat["p99"]), ratio(nat["p50"]), "-", "-"]]
    p50 = latency(c, "predictor")
    rows.append(
        [
            "C kernel, Predictor",
            c["name"],
            fmt_ms(p50),
            fmt_ms(latency(c, "predictor", "p99")),
            ratio(p50),
            fmt_ms(c["load_ms"]),
            fmt_ms(c["first_inference_ms"]),
        ]
    )
    for a in report["artifacts"]:
        if a["quantization"] != "int8" or a["format"] not in RAW_NAMES or measurement(a, "raw") is None:
            continue
        p50 = latency(a, "raw")
        rows.append(
            [
                f"{RAW_NAMES[a['format']]}, raw",
                a["name"],
                fmt_ms(p50),
                fmt_ms(latency(a, "raw", "p99")),
                ratio(p50),
                fmt_ms(a["raw_load_ms"]),
                fmt_ms(a["raw_first_inference_ms"]),
            ]
        )
    return header, rows


def host_peers_footer(report: dict) -> str:
    c = next((a for a in report["artifacts"] if a.get("native")), None)
    if c is None:
        return ""
    n = c["native"]
    return (
        f"host peers: the bare C loop times {n['method']}, {n['images']:,} test images each timed once after "
        f"{n['warmup']} warm-up calls, in its own process after the Predictor's measurements (its labels agree "
        f"with the Predictor's on {n['agreement']:.2%}); the raw loops are interleaved with the Predictor's; load = "
        f"in process, the runtime already imported (fresh-process start-up: benchmarks/cold_start.py)"
    )


def machine_line(report: dict) -> str:
    m = report["machine"]
    v = m.get("versions", {})
    runtimes = ", ".join(f"{k} {value}" for k, value in v.items() if k != "edgemnist")
    env = ", ".join(f"{k}={val}" for k, val in m.get("thread_env", {}).items()) or "no thread env vars set"
    load, end = m.get("load_average"), m.get("load_average_end")
    foreign = (m.get("foreign_load") or {}).get("foreign_cores")
    return (
        f"{m['cpu']}, {m['logical_cores']} logical cores ({m.get('usable_cores')} usable), {m['os']}, "
        f"{m['python']}; {runtimes}; {env}; load average {load[0] if load else '?'} at start"
        + (f", {end[0]} at end (the run's own threads included)" if end else "")
        + (f"; other processes used {foreign:.2f} cores meanwhile" if foreign is not None else "")
    )


def settings_line(report: dict) -> str:
    c = report["config"]
    peak = (report.get("memory") or {}).get("peak_rss_bytes")
    return (
        f"threads {c['threads']}, warm-up {c['warmup']} calls, at least {c['min_time']:g} s and "
        f"{c['min_runs']} images per measurement, batch sizes {', '.join(map(str, c['batch_sizes']))}; "
        f"wall time {report['wall_seconds']:.1f} s; peak RSS of the whole bench process {fmt_bytes(peak)}"
    )


def legend(report: dict) -> str:
    """What the columns mean, with the report's own overhead target."""
    return (
        "p50/p90/p99/max: batch-1 `Predictor.predict_proba` latency per call after warm-up; raw p50: the "
        "runtime driven directly on the same images; ×raw: predictor p50 / raw p50 (✓ within the "
        f"{overhead_target(report)} target, ✗ above); ×Keras: Keras `model(x)` p50 / artifact p50; accuracy * = "
        "from the verified manifest; model size: the bytes a device stores (the flatbuffer; for model_data.cc the "
        "C array's bytes, not the .cc text), kB = 1000 B; img/s bN: throughput "
        "at batch N; load RSS: RSS growth from loading one more instance (runtime already imported)."
    )


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    )


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
            lines += [
                "",
                "Keras baseline:",
                "",
                *md_table(*kt),
                "",
                f"Keras intra-op threads: {r['keras']['intra_op_threads']} (0 = TensorFlow's default, all cores).",
            ]
        hp = host_peers_table(r)
        if hp:
            lines += ["", "Host peers (batch 1, same run):", "", *md_table(*hp), "", host_peers_footer(r) + "."]
        extra = notes(r)
        if extra:
            lines += ["", *(f"- {n}" for n in extra)]
        lines.append("")
    lines += [legend(first), ""]
    return "\n".join(lines)


# ============================================================================== Cortex-M4 (bench --target cortex-m4)


def _count(x) -> str:
    return "-" if x is None else f"{x:,.0f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _get(d: dict, *keys):
    for key in keys:
        d = d.get(key) if isinstance(d, dict) else None
    return d


def _sum(*values):
    return None if any(v is None for v in values) else sum(values)


def fits(fig: dict) -> str:
    """Whether one path's firmware fits the board's memory: ``yes``, or what it lacks (``no: flash by 1,234 B``)."""
    if fig.get("fits") is False:
        over = fig.get("overflow_bytes") or {}
        return "no: " + ", ".join(f"{what} by {_count(n)} B" for what, n in over.items()) if over else "no"
    return "yes" if fig.get("fits") else "-"


#: (row label, the figure of one path) of the Cortex-M4 table, read from the report's ``paths`` only.
_M4_ROWS = (
    ("fits the board's memory", fits),
    ("instructions per inference", lambda f: _count(f.get("instructions_per_inference"))),
    (
        "instructions per MAC",
        lambda f: (
            _count(f.get("instructions_per_mac"))
            if f.get("instructions_per_mac") is None
            else f"{f['instructions_per_mac']:.2f}"
        ),
    ),
    ("firmware text (code + constants), B", lambda f: _count(_get(f, "sizes", "text_bytes"))),
    ("  of which model constants, B", lambda f: _count(_get(f, "sizes", "model_constants_bytes"))),
    ("  of which kernel code, B", lambda f: _count(_get(f, "sizes", "kernel_code_bytes"))),
    ("  of which test harness, B", lambda f: _count(_get(f, "sizes", "harness_code_bytes"))),
    ("RAM: data + bss, B", lambda f: _count(_sum(_get(f, "sizes", "data_bytes"), _get(f, "sizes", "bss_bytes")))),
    ("  of which activation buffer, B", lambda f: _count(_get(f, "sizes", "kernel_bss_bytes"))),
    (
        "peak stack (firmware / predict), B",
        lambda f: f"{_count(f.get('stack_peak_bytes'))} / {_count(f.get('kernel_stack_bytes'))}",
    ),
    ("RAM total (data + bss + stack), B", lambda f: _count(_get(f, "sizes", "ram_bytes"))),
)


def cortex_m4_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one ``bench --target <firmware row>`` report: a column per compute path (DSP, portable)."""
    paths = report.get("paths") or {}
    header = [report.get("core") or "Cortex-M4", *(f"{name} path" for name in paths)]
    rows = [[label, *(cell(fig) for fig in paths.values())] for label, cell in _M4_ROWS]
    return header, rows


def cortex_m4_title(report: dict) -> str:
    c = report.get("c") or {}
    source = f" (from {c['source']})" if c.get("source") else ""
    return f"{c.get('artifact', '?')}{source}: {_count(report.get('images'))} MNIST test images per path"


def cortex_m4_footer(report: dict) -> list[str]:
    """What the figures were measured on, and the outputs' check, from the report."""
    tool = report.get("toolchain") or {}
    measured = [fig for fig in (report.get("paths") or {}).values() if fig.get("fits") is not False]
    differing = [fig.get("differing_bytes_vs_host") for fig in measured]
    same = all(d == 0 for d in differing) and differing
    return [
        f"board: {report.get('board', '?')}",
        f"toolchain: {tool.get('gcc', '?')}; {tool.get('flags', '?')}",
        "outputs: "
        + (
            "byte-identical to the host build of the same C on every image"
            if same
            else f"differing bytes vs the host build: {differing}"
            if differing
            else "not run: the firmware does not fit the board's memory"
        ),
        "per MAC: instructions per multiply-accumulate of the two dense layers; stack: the measured peak; "
        "RAM total includes the test harness's image buffer",
    ]


def cortex_m4_markdown(reports: Sequence[dict]) -> str:
    """A Markdown report of ``bench --target cortex-m4`` runs: for each artifact its table and what it was
    measured on (figures from the reports only)."""
    lines = []
    for r in reports:
        lines += [
            f"## {r.get('core') or 'Cortex-M4'}: {cortex_m4_title(r)}",
            "",
            f"Measured {r.get('date', '?')}.",
            "",
            *md_table(*cortex_m4_table(r)),
            "",
            *(f"- {line}" for line in cortex_m4_footer(r)),
            "",
        ]
    return "\n".join(lines)


__all__ = [
    "cortex_m4_footer",
    "cortex_m4_markdown",
    "cortex_m4_table",
    "cortex_m4_title",
    "fmt_bytes",
    "fmt_ips",
    "fmt_size",
    "fmt_ms",
    "fmt_overhead",
    "keras_table",
    "latency",
    "legend",
    "machine_line",
    "markdown",
    "md_table",
    "measurement",
    "notes",
    "overhead_line",
    "overhead_target",
    "plain_table",
    "settings_line",
    "short_name",
    "summary_table",
]
