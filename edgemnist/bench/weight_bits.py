"""Bit width x format: every int8 target of one ``.keras`` exported with 8-, 4- and 2-bit hidden weights and
measured side by side (``edgemnist bench MODEL.keras --weight-bits 8,4,2``).

``weight_bits_report(keras_path, data, folder)`` exports, for each width, the int8 ``.tflite``, the int8
``.onnx``, their packed forms (INT4/INT2; 4 and 2 bits only), the TFLite Micro C array, the C kernel and the
WebAssembly page, each through the export pipeline and its gates, into ``folder``. Then, for every artifact: its
accuracy on the test images and its top-1 agreement with the 8-bit ``.tflite`` (through the Predictor, in the
artifact's own runtime), the bytes a device stores (the file; for the C array and the C kernel the model's
constants; for the page what a browser loads: its HTML, script and the larger of its two WebAssembly builds), and
for the C kernel the Cortex-M4 firmware (DSP path, QEMU ``-icount``): instructions per inference, firmware text
and RAM, its outputs byte-identical to the host build. ``render_markdown``, ``render_summary`` (one row per width)
and ``plot`` (accuracy against bytes stored) read only that dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgemnist.bench.render import md_table
from edgemnist.safetext import safe
from edgemnist.units import size_text

SCHEMA = "edgemnist.weight_bits/1"
BITS = (8, 4, 2)
#: (label, format, packed) in the table's order.
TARGETS = (
    ("tflite int8", "tflite", False),
    ("tflite int8, packed", "tflite", True),
    ("onnx int8", "onnx", False),
    ("onnx int8, packed", "onnx", True),
    ("micro (TFLM C array)", "micro", False),
    ("c (C kernel)", "c", False),
    ("web (WebAssembly page)", "web", False),
)
#: The firmware row the C kernel's figures come from, and its compute path.
M4_TARGET, M4_PATH = "cortex-m4", "dsp"


def parse_bits(text: str) -> tuple[int, ...]:
    """``"8,4,2"`` -> (8, 4, 2): distinct widths of ``edgemnist.export.config.WEIGHT_BITS``, widest first, 8
    always (the agreement column's reference); ConfigError otherwise."""
    from edgemnist.errors import ConfigError
    from edgemnist.export.config import WEIGHT_BITS

    try:
        bits = {int(p) for p in text.split(",") if p.strip()}
    except ValueError:
        bits = set()
    if not bits or not bits <= set(WEIGHT_BITS):
        raise ConfigError(f"--weight-bits {text!r}: expected comma-separated widths from {WEIGHT_BITS}, like 8,4,2")
    return tuple(sorted(bits | {8}, reverse=True))


def stored_bytes(fmt: str, path: Path, manifest: dict) -> tuple[int, str]:
    """What a device stores of the model, and what that counts."""
    if fmt == "c":
        return int(manifest["c"]["constants_bytes"]), "weights, biases and requantization constants in flash"
    if fmt == "micro":
        return int(manifest["micro"]["flash_bytes"]), "the model array in flash"
    if fmt == "web":
        return page_bytes(path), "what a browser loads: HTML, script and one WebAssembly build"
    return path.stat().st_size, "the file"


def page_bytes(wasm: Path) -> int:
    """What a browser loads: the page's HTML and script and one of its two WebAssembly builds (SIMD, or the
    scalar one where SIMD is missing; the larger counts)."""
    files = [f for f in wasm.parent.iterdir() if f.is_file() and not f.name.endswith(".json")]
    builds = [f.stat().st_size for f in files if f.suffix == ".wasm"]
    return sum(f.stat().st_size for f in files if f.suffix != ".wasm") + max(builds)


def preflight(formats: Sequence[str] = tuple(dict.fromkeys(f for _, f, _ in TARGETS))) -> None:
    """MissingDependencyError naming what to install, before the first export, when any target's exporter,
    its runtime or its compiler is missing here (the Cortex-M4 figures alone may be left out)."""
    from edgemnist._deps import require
    from edgemnist.build import targets
    from edgemnist.errors import MissingDependencyError
    from edgemnist.export.pipeline import unavailable
    from edgemnist.formats import FORMATS

    for fmt in formats:
        why = unavailable(FORMATS[fmt])
        if why:
            raise MissingDependencyError(f"--format {fmt} cannot be exported here ({why})")
    for module, extra, what in (
        ("ai_edge_litert.interpreter", "litert", "ai-edge-litert"),
        ("onnxruntime", "onnx", "onnxruntime"),
        ("tflite_micro", "micro", "tflite-micro"),
        ("wasmtime", "web", "wasmtime"),
    ):
        require(module, extra, what=what)
    for name in ("host", "wasm32"):
        missing = targets.get(name).missing_text()
        if missing:
            raise MissingDependencyError(f"the {name} build: {missing}")


def weight_bits_report(
    keras_path: str | Path,
    data,
    folder: str | Path,
    *,
    bits: Sequence[int] = BITS,
    m4_images: int = 1000,
    data_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Export and measure every target of ``TARGETS`` at each width of ``bits`` (8 first) from ``keras_path``
    into ``folder``; ``data``: MNIST (``edgemnist.data.load_mnist``); the C kernel runs ``m4_images`` test
    images on the Cortex-M4 (skipped, with the reason in the report, where its tools are missing)."""
    from edgemnist.bench.cortex_m4 import cortex_m4_report
    from edgemnist.bench.machine import machine_info
    from edgemnist.build import targets
    from edgemnist.export import ExportConfig, export_prepared, prepare
    from edgemnist.predictor import Predictor

    say = progress or (lambda message: None)
    preflight()
    folder = Path(folder)
    source = prepare(Path(keras_path), data, data_dir=data_dir)
    m4_skipped = targets.get(M4_TARGET).missing_text()
    rows, reference = [], None
    x, y = data.test_images, data.test_labels
    for width in sorted(set(bits) | {8}, reverse=True):
        for label, fmt, packed in TARGETS:
            if packed and width == 8:
                continue
            config = ExportConfig(format=fmt, mode="int8", weight_bits=width, packed=packed)
            say(f"exporting {config.label}")
            result = export_prepared(source, config, folder)
            with Predictor.load(result.path) as p:
                digits = p.predict(x)[0]
            if reference is None:
                reference = digits  # the 8-bit .tflite, the first row
            stored, counts = stored_bytes(fmt, result.path, result.manifest)
            row = {
                "bits": width,
                "target": label,
                "format": fmt,
                "packed": packed,
                "artifact": str(result.path.relative_to(folder)),
                "sha256": result.manifest["artifact"]["sha256"],
                "accuracy": float((digits == y).mean()),
                "agreement_with_8bit": float((digits == reference).mean()),
                "stored_bytes": stored,
                "stored_counts": counts,
            }
            if fmt == "c" and m4_skipped is None:
                say(f"  Cortex-M4 under QEMU, {m4_images} images")
                report = cortex_m4_report(result.path, x[:m4_images], target=M4_TARGET, paths=(M4_PATH,))
                m4 = report["paths"][M4_PATH]
                row["cortex_m4"] = {
                    "images": m4_images,
                    "instructions_per_inference": m4["instructions_per_inference"],
                    "text_bytes": m4["sizes"]["text_bytes"],
                    "ram_bytes": m4["sizes"]["ram_bytes"],
                    "differing_bytes_vs_host": m4["differing_bytes_vs_host"],
                }
            if fmt == "micro" and width == 4:
                row["tflm_packed"] = result.manifest["micro"].get("packed")
            rows.append(row)
    machine = machine_info()
    return {
        "schema": SCHEMA,
        "date": machine["date"],
        "machine": machine,
        "model": {"name": Path(keras_path).name, "sha256": source.sha256, "accuracy": float(source.accuracy)},
        "images": len(x),
        "cortex_m4_skipped": m4_skipped,
        "rows": rows,
    }


# ------------------------------------------------------------------------------------------------ rendering


#: The table's columns, and their short forms for a 100-column terminal (``short=True``).
COLUMNS = (
    ("bits", "bits"),
    ("target", "target"),
    ("accuracy", "accuracy"),
    ("agreement with 8-bit", "vs 8-bit"),
    ("bytes stored", "stored"),
    ("Cortex-M4 instructions", "M4 instr."),
    ("Cortex-M4 firmware text", "M4 text"),
    ("Cortex-M4 RAM", "M4 RAM"),
)


def table(report: dict, *, short: bool = False) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per width and target; ``short``: the terminal's headers and target names
    (``tflite, packed``), explained by ``legend``."""
    header = [c[short] for c in COLUMNS]
    rows = []
    for r in report["rows"]:
        c = r.get("cortex_m4")
        m4 = (
            [f"{c['instructions_per_inference']:,.0f}", f"{c['text_bytes']:,} B", f"{c['ram_bytes']:,} B"]
            if c
            else ["-", "-", "-"]
        )
        rows.append(
            [
                str(r["bits"]),
                safe(r["target"].split(" (")[0].replace(" int8", "") if short else r["target"], 40),
                f"{r['accuracy']:.2%}",
                f"{r['agreement_with_8bit']:.2%}",
                size_text(r["stored_bytes"]),
                *m4,
            ]
        )
    return header, rows


def legend() -> str:
    """What the short headers of ``table(short=True)`` mean."""
    return (
        "vs 8-bit: top-1 agreement with the 8-bit .tflite; stored: the bytes a device stores; M4: the C kernel's "
        "Cortex-M4 firmware (instructions per inference, text, RAM)"
    )


def _m4_text(report: dict) -> str:
    m4 = next((r["cortex_m4"] for r in report["rows"] if "cortex_m4" in r), None)
    if m4 is None:
        return f"Cortex-M4: not measured ({safe(str(report.get('cortex_m4_skipped') or 'no C kernel row'), 200)})."
    return (
        f"Cortex-M4: the C kernel's firmware, DSP path, `-O2`, QEMU mps2-an386 `-icount`, {m4['images']:,} images, "
        "outputs byte-identical to the host build."
    )


def _model_name(report: dict) -> str:
    """The source model's file name as the report states it, made safe to print (a report may be read back)."""
    return safe(report["model"]["name"], 80)


def caption(report: dict) -> str:
    return (
        f"Hidden-layer weight width x format, from one `{_model_name(report)}` (sha256 "
        f"`{safe(str(report['model']['sha256'])[:12])}...`, float {report['model']['accuracy']:.2%}). Accuracy and "
        f"top-1 agreement with the 8-bit `.tflite` on the {report['images']:,} test images, each artifact in its own "
        "runtime; bytes stored: the file (the model array for micro, the constants for the C kernel; for the page "
        "what a browser loads: HTML, script and one of its two WebAssembly builds). " + _m4_text(report)
    )


def render_markdown(report: dict, *, generator: str = "edgemnist bench --weight-bits") -> str:
    """The whole table under its caption, with the TFLite Micro note."""
    lines = [
        f"<!-- generated by {generator} ({report['schema']}) on {report['date']}; do not edit -->",
        caption(report),
        "",
        *md_table(*table(report)),
    ]
    notes = footer(report)
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def footer(report: dict) -> list[str]:
    packed = next((r.get("tflm_packed") for r in report["rows"] if r.get("tflm_packed")), None)
    return [tflm_note(packed)] if packed else []


def summary_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """One row per width: the C kernel's accuracy and agreement (byte-identical to TFLite Micro), what each
    format stores, and the Cortex-M4 figures."""
    by = {(r["bits"], r["target"]): r for r in report["rows"]}
    widths = sorted({r["bits"] for r in report["rows"]}, reverse=True)
    stored = [
        ("tflite int8", ".tflite"),
        ("tflite int8, packed", "packed .tflite"),
        ("onnx int8, packed", "packed .onnx"),
        ("c (C kernel)", "C kernel constants"),
        ("web (WebAssembly page)", "web page"),
    ]
    header = ["bits", "accuracy (C kernel)", "agreement with 8-bit", *(h for _, h in stored)]
    header += ["Cortex-M4 instructions", "Cortex-M4 firmware text"]
    rows = []
    for b in widths:
        c = by.get((b, "c (C kernel)"), {})
        m4 = c.get("cortex_m4")
        rows.append(
            [
                str(b),
                f"{c['accuracy']:.2%}" if c else "-",
                f"{c['agreement_with_8bit']:.2%}" if c else "-",
                *(size_text(by[(b, t)]["stored_bytes"]) if (b, t) in by else "-" for t, _ in stored),
                f"{m4['instructions_per_inference']:,.0f}" if m4 else "-",
                f"{m4['text_bytes']:,} B" if m4 else "-",
            ]
        )
    return header, rows


def render_summary(report: dict, *, generator: str = "edgemnist bench --weight-bits") -> str:
    """The README's short form: one row per width (``summary_table``); the whole table is ``render_markdown``."""
    lines = [
        f"<!-- generated by {generator} ({report['schema']}) on {report['date']}; do not edit -->",
        f"From one `{_model_name(report)}` (float {report['model']['accuracy']:.2%}), on the "
        f"{report['images']:,} test images; the C kernel's scores are byte-identical to TFLite Micro's on the same "
        "int8 file. Bytes stored: what a device keeps of the model (for the page, what a browser loads). "
        + _m4_text(report),
        "",
        *md_table(*summary_table(report)),
    ]
    return "\n".join(lines) + "\n"


def tflm_note(packed: dict) -> str:
    """TFLite Micro on packed 4-bit weights, from the micro export's manifest (its reasons made printable)."""
    parts = []
    for kind, what in (("per_channel", "per-channel INT4"), ("per_tensor", "per-tensor INT4")):
        p = packed.get(kind) or {}
        if p.get("runs"):
            parts.append(
                f"{what}: runs, {p['accuracy']:.2%}, arena {p['arena_bytes']:,} B "
                f"({p['arena_extra_bytes']:+,} B against the int8 array)"
            )
        elif p:
            why = safe(" ".join(str(p.get("why") or "no reason recorded").split()), 160)
            parts.append(f"{what}: refused ({why})")
    return "TFLite Micro on packed 4-bit weights (the micro export's manifest): " + "; ".join(parts) + "."


def plot(report: dict, out: str | Path) -> Path:
    """A PNG: accuracy against bytes stored, one line per target through its widths; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, _, _ in TARGETS:
        pts = [r for r in report["rows"] if r["target"] == label]
        if not pts:
            continue
        ax.plot([r["stored_bytes"] / 1000 for r in pts], [100 * r["accuracy"] for r in pts], "o-", label=label)
        for r in pts:
            ax.annotate(
                f"{r['bits']}b",
                (r["stored_bytes"] / 1000, 100 * r["accuracy"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("bytes stored (kB)")
    ax.set_ylabel(f"accuracy on the {report['images']:,} test images (%)")
    ax.set_title("Accuracy against flash: 8-, 4- and 2-bit hidden weights")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    try:
        fig.savefig(tmp)
        tmp.replace(out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return out
