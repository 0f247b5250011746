"""edgemnist predict MODEL IMAGE... : label and confidence for each image file."""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_public_key, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="artifact (.tflite, .onnx, .keras, .cc)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...), one digit each")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                   help="force (--invert) or forbid (--no-invert) inverting dark-on-light images "
                        "(default: decide from the background)")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N", help="runtime threads (default 1)")
    p.add_argument("--allow-unverified", action="store_true",
                   help="use an artifact whose manifest records a failed verification")
    add_public_key(p)


def run(args: argparse.Namespace) -> int:
    import json

    from edgemnist.commands._common import with_flags
    from edgemnist.errors import UnverifiedError
    from edgemnist.images import load_digits
    from edgemnist.predictor import Predictor

    digits = load_digits(args.images, invert=args.invert)  # every image is checked before the model loads
    try:
        predictor = Predictor.load(args.model, threads=args.threads, allow_unverified=args.allow_unverified,
                                   public_key=args.public_key)
    except UnverifiedError as exc:
        raise with_flags(exc) from None
    with predictor:
        proba = predictor.predict_proba(digits)
    labels = proba.argmax(axis=1)
    if args.json:
        print(json.dumps([
            {"image": path, "label": int(label), "confidence": float(row[label]),
             "probabilities": [round(float(v), 6) for v in row]}
            for path, label, row in zip(args.images, labels, proba, strict=True)
        ], indent=2))
    else:
        width = max(len(p) for p in args.images)
        for path, label, row in zip(args.images, labels, proba, strict=True):
            print(f"{path:<{width}}  {label}  ({row[label]:.1%})")
    return 0
