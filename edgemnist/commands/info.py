"""edgemnist info MODEL : the manifest beside an artifact and what its runtime reports."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="artifact (.tflite, .onnx, .keras, .cc)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _tensor(t: dict) -> str:
    quant = "" if t.get("scale") is None else f"  scale {t['scale']:.9g}  zero point {t['zero_point']}"
    return f"{t['name']}  {t['dtype']}  {t['shape']}{quant}"


def run(args: argparse.Namespace) -> int:
    import json

    from edgemnist.fileio import sha256_file
    from edgemnist.manifest import manifest_path
    from edgemnist.predictor import Predictor
    from edgemnist.units import size_text

    # Describe even an artifact that changed or failed verification: say so instead of refusing.
    predictor = Predictor.load(args.model, check_hash=False, allow_unverified=True)
    with predictor:
        runtime = predictor.describe()
    manifest = predictor.manifest
    digest = sha256_file(args.model)
    sha_ok = None if manifest is None else digest == manifest["artifact"]["sha256"]
    if args.json:
        print(json.dumps({"path": args.model, "sha256": digest, "sha256_matches_manifest": sha_ok,
                          "manifest_path": str(manifest_path(args.model)) if manifest else None,
                          "runtime": runtime, "manifest": manifest}, indent=2))
        return 0
    print(f"{args.model}")
    stored = runtime["details"].get("flash_bytes") or runtime["bytes"]  # the C array's bytes, not the .cc text
    file_note = "" if stored == runtime["bytes"] else f" (the file: {size_text(runtime['bytes'])} of C source)"
    print(f"  format        {runtime['format']} ({runtime['quantization']}), model size {size_text(stored)}{file_note}")
    status = {None: "(no manifest)", True: "matches the manifest", False: "CHANGED since export (manifest differs)"}
    print(f"  sha256        {digest}  {status[sha_ok]}")
    print(f"  runtime       {runtime['runtime']}  " + "  ".join(f"{k}={v}" for k, v in runtime["details"].items()
                                                            if not isinstance(v, dict)))
    print(f"  input         {_tensor(runtime['input'])}")
    print(f"  output        {_tensor(runtime['output'])}")
    if runtime["integer_pixel_path"]:
        print("  uint8 pixels  map exactly to the int8 input (q = p - 128), no float math")
    if manifest is None:
        print(f"  manifest      none ({manifest_path(args.model).name} not found); facts above come from the model")
        return 0
    print(f"  manifest      {manifest_path(args.model)}")
    ver = manifest.get("verification")
    if ver:
        acc = ver.get("accuracy")
        acc_s = f"accuracy {acc:.2%}" if isinstance(acc, (int, float)) else ""
        extra = "  ".join(f"{k} {ver[k]:.4g}" for k in ("agreement", "max_abs_diff", "threshold")
                          if isinstance(ver.get(k), (int, float)))
        print(f"  verification  {'PASSED' if ver['passed'] else 'FAILED'}  {acc_s}  {extra}".rstrip())
        for reason in ver.get("reasons") or []:
            print(f"                - {reason}")
    for key in ("io", "source", "calibration", "preprocessing", "tools", "created"):
        if manifest.get(key) not in (None, {}, []):
            value = manifest[key]
            print(f"  {key:<13} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0
