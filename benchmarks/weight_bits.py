"""Bit width x format: every int8 target exported with 8-, 4- and 2-bit hidden weights, measured side by side.

    python benchmarks/weight_bits.py                     # Cortex-M4 figures on 1,000 test images
    python benchmarks/weight_bits.py --images 10000      # all of them (the README's table)
    python benchmarks/weight_bits.py --render-only       # results/weight_bits.md and .png again from the JSON
    python benchmarks/update_readme.py                   # then paste it into the README and docs/cli.md

From ``--artifacts``/model.keras (trained there when missing) this exports, for each width, the int8 ``.tflite``,
its packed form (INT4/INT2, LiteRT; 4 and 2 bits only), the int8 ONNX, the TFLite Micro C array, the C kernel and
the WebAssembly page, each through edgemnist's own export pipeline and gates, into ``--artifacts``/weight-bits/.
Then, for every artifact: its accuracy on the 10,000 test images and its top-1 agreement with the 8-bit
``.tflite`` (both measured here through the Predictor, in the artifact's own runtime), the bytes a device stores
(the file; for the C array and the C kernel the model's constants; for the page what a browser loads: its HTML,
script and one of its two WebAssembly builds), and for the
C kernel the Cortex-M4 firmware (``-O2``, DSP path, QEMU mps2-an386 ``-icount``): instructions per inference,
firmware text and RAM, its outputs byte-identical to the host build. Writes ``results/weight_bits.json``, ``.md``
and ``.png`` (accuracy against bytes stored). Every figure is measured by this run; none is typed in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _artifacts import add_common, log

SCHEMA = "edgemnist.weight_bits/1"
BITS = (8, 4, 2)
#: (label, format, packed) in the table's order.
TARGETS = (
    ("tflite int8", "tflite", False),
    ("tflite int8, packed", "tflite", True),
    ("onnx int8", "onnx", False),
    ("micro (TFLM C array)", "micro", False),
    ("c (C kernel)", "c", False),
    ("web (WebAssembly page)", "web", False),
)


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


def measure(args) -> dict:
    from edgemnist.bench.cortex_m4 import cortex_m4_report
    from edgemnist.bench.machine import machine_info
    from edgemnist.data import load_mnist
    from edgemnist.export import ExportConfig, export_prepared, prepare
    from edgemnist.model import TrainConfig, train_and_save
    from edgemnist.predictor import Predictor

    data = load_mnist(args.data_dir)
    keras_path = args.artifacts / "model.keras"
    if not keras_path.is_file():
        log(f"training {keras_path} (the default 5-epoch run)")
        args.artifacts.mkdir(parents=True, exist_ok=True)
        train_and_save(TrainConfig(), data, args.artifacts)
    source = prepare(keras_path, data, data_dir=args.data_dir)
    folder = args.artifacts / "weight-bits"
    rows, reference = [], None
    x, y = data.test_images, data.test_labels
    for bits in BITS:
        for label, fmt, packed in TARGETS:
            if packed and bits == 8:
                continue
            config = ExportConfig(format=fmt, mode="int8", weight_bits=bits, packed=packed)
            log(f"exporting {fmt} int8, {bits}-bit hidden weights{' (packed)' if packed else ''}")
            result = export_prepared(source, config, folder)
            with Predictor.load(result.path) as p:
                digits = p.predict(x)[0]
            if reference is None:
                reference = digits  # the 8-bit .tflite, the first row
            stored, counts = stored_bytes(fmt, result.path, result.manifest)
            row = {
                "bits": bits,
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
            if fmt == "c":
                log(f"  Cortex-M4 under QEMU, {args.images} images")
                m4 = cortex_m4_report(result.path, x[: args.images], paths=("dsp",))["paths"]["dsp"]
                row["cortex_m4"] = {
                    "images": args.images,
                    "instructions_per_inference": m4["instructions_per_inference"],
                    "text_bytes": m4["sizes"]["text_bytes"],
                    "ram_bytes": m4["sizes"]["ram_bytes"],
                    "differing_bytes_vs_host": m4["differing_bytes_vs_host"],
                }
            if fmt == "micro" and bits == 4:
                row["tflm_packed"] = result.manifest["micro"].get("packed")
            rows.append(row)
    machine = machine_info()
    return {
        "schema": SCHEMA,
        "date": machine["date"],
        "machine": machine,
        "model": {"file": "model.keras", "sha256": source.sha256, "accuracy": float(source.accuracy)},
        "images": len(x),
        "rows": rows,
    }


def _kb(n: int) -> str:
    return f"{n / 1000:,.1f} kB"


def render_markdown(report: dict) -> str:
    rows = report["rows"]
    m4 = next(r["cortex_m4"] for r in rows if "cortex_m4" in r)
    lines = [
        f"<!-- generated by benchmarks/weight_bits.py ({report['schema']}) on {report['date']}; do not edit -->",
        f"Hidden-layer weight width x format, from one `model.keras` (sha256 `{report['model']['sha256'][:12]}...`, "
        f"float {report['model']['accuracy']:.2%}). Accuracy and top-1 agreement with the 8-bit `.tflite` on the "
        f"{report['images']:,} test images, each artifact in its own runtime; bytes stored: the file (the model "
        "array for micro, the constants for the C kernel; for the page what a browser loads: HTML, script and one "
        "of its two WebAssembly builds). Cortex-M4: the C kernel's "
        f"firmware, DSP path, `-O2`, QEMU mps2-an386 `-icount`, {m4['images']:,} images, outputs byte-identical to "
        f"the host build.",
        "",
        "| bits | target | accuracy | agreement with 8-bit | bytes stored | Cortex-M4 instructions | "
        "Cortex-M4 firmware text | Cortex-M4 RAM |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r.get("cortex_m4")
        lines.append(
            f"| {r['bits']} | {r['target']} | {r['accuracy']:.2%} | {r['agreement_with_8bit']:.2%} | "
            f"{_kb(r['stored_bytes'])} | "
            + (
                f"{c['instructions_per_inference']:,.0f} | {c['text_bytes']:,} B | {c['ram_bytes']:,} B |"
                if c
                else "- | - | - |"
            )
        )
    packed = next((r.get("tflm_packed") for r in rows if r.get("tflm_packed")), None)
    if packed:
        lines += ["", tflm_note(packed)]
    return "\n".join(lines) + "\n"


def tflm_note(packed: dict) -> str:
    """TFLite Micro on packed 4-bit weights, from the micro export's manifest (its reasons made printable)."""
    from edgemnist.safetext import safe

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


def plot(report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, _, _ in TARGETS:
        pts = [r for r in report["rows"] if r["target"] == label]
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
    ax.set_ylabel("accuracy on the 10,000 test images (%)")
    ax.set_title("Accuracy against flash: 8-, 4- and 2-bit hidden weights")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--images", type=int, default=1000, help="Cortex-M4 test images (default 1000; max 10000)")
    p.add_argument("--render-only", action="store_true", help="run nothing: the .md and .png again from the JSON")
    args = p.parse_args(argv)
    import json

    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    out = args.out
    if args.render_only:
        report = json.loads((out / "weight_bits.json").read_text(encoding="utf-8"))
    else:
        if not 1 <= args.images <= 10000:
            print(f"error: --images must be 1..10000, not {args.images}", file=sys.stderr)
            return 2
        try:
            report = measure(args)
        except EdgemnistError as exc:
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return exc.exit_code
        atomic_write_json(out / "weight_bits.json", report)
    md = render_markdown(report)
    atomic_write_text(out / "weight_bits.md", md)
    plot(report, out / "weight_bits.png")
    print(md)
    log(f"wrote {out / 'weight_bits.json'}, .md and .png; python benchmarks/update_readme.py pastes the table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
