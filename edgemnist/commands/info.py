"""edgemnist info MODEL : the manifest beside an artifact and what its runtime reports.

Everything printed from the manifest or the model goes through ``edgemnist.safetext`` (one harmless line per
field: no control characters, escape sequences or lone surrogates reach the terminal)."""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_public_key, model_files


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=f"artifact: {model_files()}")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_public_key(p)


#: (manifest key, label, format) of the verification facts ``info`` shows.
_VERIFICATION = (
    ("accuracy", "accuracy", ".2%"),
    ("agreement", "agreement", ".2%"),
    ("max_abs_diff", "max|dp|", ".2g"),
    ("threshold", "gate", ".2%"),
)


def _tensor(t: dict) -> str:
    quant = "" if t.get("scale") is None else f"  scale {t['scale']:.9g}  zero point {t['zero_point']}"
    return f"{safe(t['name'], 200)}  {t['dtype']}  {t['shape']}{quant}"


#: Every line fits this many columns: a longer field continues on the next lines, under its value.
COLUMNS = 100
_INDENT = " " * 16


def _emit(line: str) -> None:
    """``emit`` a field's line, wrapped at spaces to ``COLUMNS`` (continuations under the value column)."""
    import textwrap

    from edgemnist.safetext import emit, safe

    line = safe(line, None)
    if len(line) <= COLUMNS:
        emit(line)
        return
    for part in textwrap.wrap(
        line, COLUMNS, subsequent_indent=_INDENT, break_long_words=False, break_on_hyphens=False, drop_whitespace=True
    ):
        emit(part)


def safe(value, limit=500) -> str:
    from edgemnist.safetext import safe as _safe

    return _safe(value, limit)


def run(args: argparse.Namespace) -> int:
    import json

    from edgemnist.fileio import sha256_file
    from edgemnist.manifest import manifest_path, weights_text
    from edgemnist.predictor import Predictor
    from edgemnist.safetext import emit, safe_json
    from edgemnist.units import size_text

    # Describe even an artifact that changed or failed verification: say so instead of refusing.
    predictor = Predictor.load(args.model, check_hash=False, allow_unverified=True, public_key=args.public_key)
    with predictor:
        runtime = predictor.describe()
    manifest = predictor.manifest
    digest = sha256_file(args.model)
    sha_ok = None if manifest is None else digest == manifest["artifact"]["sha256"]
    if args.json:
        # ensure_ascii escapes every control and non-ASCII character (lone surrogates too) except DEL
        print(
            json.dumps(
                {
                    "path": args.model,
                    "sha256": digest,
                    "sha256_matches_manifest": sha_ok,
                    "manifest_path": str(manifest_path(args.model)) if manifest else None,
                    "runtime": runtime,
                    "manifest": manifest,
                },
                indent=2,
                default=str,
            ).replace("\x7f", "\\u007f")
        )
        return 0
    emit(f"{args.model}")
    stored = runtime["details"].get("flash_bytes") or runtime["bytes"]  # the C array's bytes, not the .cc text
    file_note = "" if stored == runtime["bytes"] else f" (the file: {size_text(runtime['bytes'])} of C source)"
    _emit(f"  format        {runtime['format']} ({runtime['quantization']}), model size {size_text(stored)}{file_note}")
    status = {None: "(no manifest)", True: "matches the manifest", False: "CHANGED since export (manifest differs)"}
    sha_line = f"  sha256        {digest}  {status[sha_ok]}"
    if len(sha_line) <= COLUMNS:
        emit(sha_line)
    else:  # the status on its own line, whole
        emit(f"  sha256        {digest}")
        emit(f"{_INDENT}{status[sha_ok]}")
    details = "  ".join(f"{k}={safe(v, 200)}" for k, v in runtime["details"].items() if not isinstance(v, dict))
    _emit(f"  runtime       {runtime['runtime']}  {details}")
    _emit(f"  input         {_tensor(runtime['input'])}")
    _emit(f"  output        {_tensor(runtime['output'])}")
    _emit(f"  model         {_shape(args.model, runtime, manifest)}")
    if runtime["integer_pixel_path"]:
        emit("  uint8 pixels  map exactly to the int8 input (q = p - 128), no float math")
    if manifest is None:
        _emit(f"  manifest      none ({manifest_path(args.model).name} not found); facts above come from the model")
        return 0
    _emit(f"  manifest      {manifest_path(args.model)}")
    weights = weights_text(manifest)
    if weights:
        _emit(f"  weights       {weights}")
    ver = manifest.get("verification")
    if ver:
        # on screen: percentages with two decimals, as export and evaluate print them (ratios stay in --json)
        shown = [
            (label, f"{ver[key]:{fmt}}")
            for key, label, fmt in _VERIFICATION
            if isinstance(ver.get(key), (int, float)) and not isinstance(ver.get(key), bool)
        ]
        _emit(
            f"  verification  {'PASSED' if ver['passed'] else 'FAILED'}  "
            + "  ".join(f"{label} {value}" for label, value in shown)
        )
        for reason in ver.get("reasons") or []:
            _emit(f"                - {safe(reason)}")
    for key in ("io", "source", "dataset", "calibration", "preprocessing", "tools", "created"):
        if manifest.get(key) not in (None, {}, []):
            value = manifest[key]
            _emit(f"  {key:<13} {safe_json(value) if isinstance(value, (dict, list)) else safe(value)}")
    return 0


def _shape(path, runtime: dict, manifest: dict | None) -> str:
    """``784 -> 256 -> 64 -> 10 (10 classes)``: the layer widths as the file states them (a .tflite or the array in a
    model_data.cc, through ``edgemnist.modelfacts``), else as the manifest records them; the class count is the
    runtime's output width."""
    from pathlib import Path

    from edgemnist import spec
    from edgemnist.errors import ArtifactError

    classes = runtime["output"]["shape"][-1]
    widths = None
    try:
        if Path(path).suffix == ".tflite":
            from edgemnist.modelfacts import read_facts

            widths = read_facts(path).widths
        elif Path(path).suffix == ".cc":
            from edgemnist.modelfacts import parse_facts
            from edgemnist.tflm.reader import read_array

            widths = parse_facts(read_array(Path(path)), str(path)).widths
    except ArtifactError:
        widths = None
    if widths is None and manifest is not None and isinstance(manifest.get("layers"), list):
        widths = manifest["layers"]
    where = "" if widths is None else f"{spec.describe_shape(widths)}, "
    return f"{where}{classes} classes"
