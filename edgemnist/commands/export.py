"""edgemnist export"""

from __future__ import annotations

import argparse

from edgemnist.commands._common import (
    COLUMNS,
    add_data_dir,
    add_tolerance,
    new_dir_or_nothing,
    nonneg_int,
    positive_int,
)
from edgemnist.export.config import (
    DEFAULT_CALIBRATION_SAMPLES,
    DEFAULT_SEED,
    DEFAULT_WEIGHT_BITS,
    LOW_BIT_MODES,
    PACKED_FORMATS,
    WEIGHT_BITS,
)
from edgemnist.formats import EXPORT_FORMATS, FORMATS

ALL = "all"


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))


def add_arguments(p: argparse.ArgumentParser) -> None:
    ios = _unique(io for f in EXPORT_FORMATS for m in FORMATS[f].modes for io in m.io)
    per_format = "; ".join(f"{f}: {', '.join(FORMATS[f].mode_names)}" for f in EXPORT_FORMATS)
    p.add_argument(
        "--format",
        default="tflite",
        choices=[*EXPORT_FORMATS, ALL],
        help=f"artifact format; '{ALL}' exports every format x mode x I/O (default tflite)",
    )
    p.add_argument(
        "--quantize",
        metavar="MODE",  # checked against the chosen format's modes (_configs)
        help=f"quantization mode, the format's first by default ({per_format}); "
        f"with --format {ALL}, export only this mode",
    )
    io_modes = "; ".join(
        f"{f} {m.name}: {', '.join(m.io)}" for f in EXPORT_FORMATS for m in FORMATS[f].modes if m.io != ("float",)
    )
    p.add_argument(
        "--io",
        metavar="{" + ",".join(ios) + "}",
        help=f"input/output dtype, the mode's first by default ({io_modes}; every other mode: float)",
    )
    p.add_argument("--model", metavar="PATH", help="the trained Keras model (default: OUT/model.keras)")
    p.add_argument("--out", default="export", metavar="DIR", help="output folder (default export/)")
    p.add_argument(
        "--calibration-samples",
        type=positive_int,
        default=DEFAULT_CALIBRATION_SAMPLES,
        metavar="N",
        help=f"training images used to calibrate int8 modes (default {DEFAULT_CALIBRATION_SAMPLES})",
    )
    p.add_argument(
        "--seed",
        type=nonneg_int,
        default=DEFAULT_SEED,
        help=f"seed choosing the calibration images (default {DEFAULT_SEED})",
    )
    p.add_argument(
        "--weight-bits",
        type=int,
        metavar="{" + ",".join(map(str, WEIGHT_BITS)) + "}",
        help=f"bits of the hidden layer's weights (default {DEFAULT_WEIGHT_BITS}); 4 or 2 for "
        f"{', '.join(f'{f} {m}' for f, m in LOW_BIT_MODES)}: an int8 file whose hidden weights take only "
        f"2^bits values (the output layer stays 8-bit); with --format {ALL}, only those formats",
    )
    p.add_argument(
        "--packed",
        action="store_true",
        help=f"with --weight-bits 4|2 and --format {'/'.join(PACKED_FORMATS)}: also write the weights packed "
        "as INT4/INT2 (model.int8-w4-packed.tflite), checked against the int8 file in its runtime",
    )
    add_tolerance(p)
    add_data_dir(p)
    p.add_argument(
        "--sign",
        metavar="KEY.pem",
        help="sign each artifact that passes, with its manifest and companions, using this ECDSA "
        "private key: writes <artifact>.sig (OpenSSF model signing; pip install 'edgemnist[sign]')",
    )


HEADER = ["artifact", "model size", "accuracy", "agreement", "max|dp|", "seconds", "status"]
LEGEND = "agreement: % of test images given Keras' digit; max|dp|: largest |p - p_Keras| of any probability"


def _fields(result, path, *, status: str) -> list[str]:
    from edgemnist.units import model_bytes, size_text

    r = result.report
    return [
        str(path),
        size_text(model_bytes(result.manifest)),
        f"{r.accuracy:.2%}",
        f"{r.agreement:.2%}",
        f"{r.max_abs_diff:.2g}",
        f"{result.seconds + r.seconds:.1f} s",
        status,
    ]


def _line(row: list[str], widths: list[int]) -> str:
    return "  ".join(
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
    )


def _wrapped(line: str, indent: str = "    ") -> str:
    import textwrap

    return "\n".join(
        textwrap.wrap(line, COLUMNS, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    )


def _print_summary(result) -> None:
    """A format's own line under its row (the exporter's ``summary``: micro's arena and flash), wrapped."""
    line = result.config.fmt.load_exporter().summary(result)
    if line:
        print(_wrapped(line))


def next_steps(landed, out, data_dir: str | None = None) -> list[str]:
    """What to run next with the artifacts ``landed`` (config, path): predict and evaluate the first, bench them
    all (a glob per suffix with more than one file), serve the web folder, run the C kernel on the Cortex-M4."""
    import shlex
    from collections import Counter
    from pathlib import Path

    from edgemnist.commands._common import next_steps as lines

    if not landed:
        return []
    q = shlex.quote
    data = f" --data-dir {q(str(data_dir))}" if data_dir else ""
    paths = [Path(p) for _, p in landed]
    first = next((p for c, p in landed if c.format != "web"), paths[0])
    suffixes = Counter(p.suffix for p in paths)
    bench = list(
        dict.fromkeys(
            f"{q(str(Path(out)))}/*{p.suffix}" if suffixes[p.suffix] > 1 and p.parent == Path(out) else q(str(p))
            for p in paths
        )
    )
    steps = [
        (f"edgemnist predict {q(str(first))} IMAGE.png", "classify a photo or drawing of a digit"),
        (f"edgemnist evaluate {q(str(first))}{data}", "accuracy on the 10,000 test images"),
        (f"edgemnist bench {' '.join(bench)}{data}", "size, latency and throughput side by side"),
    ]
    for config, path in landed:
        if config.format == "web":
            steps.append((f"edgemnist serve {q(str(Path(path).parent))}", "the page in a browser"))
        if config.format == "c":
            steps.append(
                (
                    f"edgemnist bench {q(str(path))} --target cortex-m4{data}",
                    "instructions, flash and RAM on an emulated Cortex-M4",
                )
            )
    return lines(steps)


def _configs(args, common: dict):
    """The configs the flags ask for; a ConfigError names the flag it came from."""
    from edgemnist.errors import ConfigError
    from edgemnist.export import ExportConfig, all_configs

    if (
        args.format == ALL
        and args.quantize is not None
        and not any(args.quantize in FORMATS[f].mode_names for f in EXPORT_FORMATS)
    ):
        modes = "; ".join(f"{f}: {', '.join(FORMATS[f].mode_names)}" for f in EXPORT_FORMATS)
        raise ConfigError(f"--quantize {args.quantize!r} is no exportable format's mode; expected one of ({modes})")
    bits = DEFAULT_WEIGHT_BITS if args.weight_bits is None else args.weight_bits
    common = {**common, "weight_bits": bits}
    try:
        if args.packed and bits == DEFAULT_WEIGHT_BITS:
            raise ConfigError("--packed needs --weight-bits 4 or 2 (8-bit weights are stored one per byte)")
        if args.format == ALL:
            return all_configs(mode=args.quantize, io=args.io, packed=args.packed, **common)
        config = ExportConfig(format=args.format, mode=args.quantize, io=args.io, **common)
        if args.packed:  # the int8 reference first, then its packed form
            return [config, ExportConfig(format=args.format, mode=args.quantize, io=args.io, packed=True, **common)], []
        return [config], []
    except ConfigError as exc:
        text = str(exc)
        for word, flag in (  # the registry's word -> the flag
            ("quantization ", "--quantize "),
            ("io ", "--io "),
            ("weight bits ", "--weight-bits "),
            ("packed weights ", "--packed: weights "),
        ):
            if text.startswith(word):
                text = flag + text[len(word) :]
        raise ConfigError(text) from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgemnist.errors import ArtifactError

    common = dict(calibration_samples=args.calibration_samples, seed=args.seed, tolerance=args.tolerance)
    configs, skipped = _configs(args, common)
    out = Path(args.out)
    model_path = Path(args.model) if args.model else out / "model.keras"
    if not model_path.is_file():
        how = f"pass --model PATH, or train one with: edgemnist train --out {out}"
        what = "no such model file" if args.model else "no trained model"
        raise ArtifactError(f"{model_path}: {what}; {how}")
    if args.sign is not None:  # fail before any work: a missing key or library, not after an hour of export
        from edgemnist._deps import require

        if not Path(args.sign).is_file():
            raise ArtifactError(f"{args.sign}: no such private key file (--sign expects a PEM file)")
        require("model_signing", "sign", what="model-signing")
    with new_dir_or_nothing(out):  # a failed run (no data, bad model) leaves no empty folder behind
        return _export_all(args, configs, skipped, out, model_path)


def _export_all(args, configs, skipped, out, model_path) -> int:
    from edgemnist import spec
    from edgemnist.errors import ArtifactError, MissingDependencyError
    from edgemnist.export import RejectedError, export_prepared, prepare

    source = prepare(model_path, data_dir=args.data_dir)
    floor = spec.accuracy_floor(args.tolerance, source.gate_reference)
    print(f"{model_path}: Keras test accuracy {source.accuracy:.2%}, sha256 {source.sha256[:12]}")
    print(f"network: {spec.describe_shape(source.widths)}, {source.data.num_classes} classes of {source.data.name}")
    gate = spec.gate_text(source.gate_reference, args.tolerance, source.data.name)
    print(f"gate: accuracy at least {floor:.2%} = {gate}")
    for note in skipped:
        print(f"skipped {note}")
    rows, failed, landed = 0, [], []
    widths = [max(len(str(out / c.artifact_name)) for c in configs), 10, 8, 9, 7, 7, 8]
    print(_line(HEADER, widths).rstrip())
    for config in configs:  # one table, printed row by row as each artifact lands
        try:
            try:
                result = export_prepared(source, config, out)
            except ArtifactError as exc:  # a format that cannot hold this model's shape says what it holds
                shape = spec.describe_shape(source.widths)
                raise type(exc)(f"{model_path} ({shape}): not exportable as {config.label}: {exc}") from None
        except RejectedError as exc:
            row = _fields(exc.result, out / config.artifact_name, status="REJECTED")
            if len(configs) == 1:
                print(_line(row, widths).rstrip())
                raise
            failed.append(f"{config.label}: {'; '.join(exc.result.report.reasons)} (kept as {exc.result.path})")
        except MissingDependencyError as exc:
            if len(configs) == 1:
                raise
            print(f"skipped {config.label}: {exc}")
            continue
        except ArtifactError as exc:  # a format that cannot hold this model's shape (the C kernel says which)
            if len(configs) == 1:
                raise
            print(_wrapped(f"skipped {config.label}: {exc}"))
            continue
        else:
            row = _fields(result, result.path, status="ok")
        rows += 1
        print(_line(row, widths).rstrip())
        if row[-1] == "ok":
            landed.append((config, result.path))
            _print_summary(result)
            if args.sign is not None:
                from edgemnist.signer import sign

                print(f"  signed: {sign(result.path, args.sign)}")
    print(LEGEND)
    if len(configs) > 1:
        print(f"{rows} exported to {out}/: {rows - len(failed)} passed, {len(failed)} rejected")
    for reason in failed:
        print(_wrapped(f"rejected {reason}"))
    for line in next_steps(landed, out, args.data_dir):
        print(line)
    return 1 if failed else 0
