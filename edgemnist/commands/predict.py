"""edgemnist predict MODEL IMAGE... : label and confidence for each image file."""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_public_key, model_files, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=f"artifact: {model_files()}")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...), one digit each")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--invert",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force (--invert) or forbid (--no-invert) inverting dark-on-light images "
        "(default: decide from the background)",
    )
    p.add_argument("--threads", type=positive_int, default=1, metavar="N", help="runtime threads (default 1)")
    p.add_argument(
        "--allow-unverified", action="store_true", help="use an artifact whose manifest records a failed verification"
    )
    add_public_key(p)


def run(args: argparse.Namespace) -> int:
    """One result per image file, in the order given: a label, or one ``error:`` line for a file that is not a
    readable digit (the others are still classified); exit 2 if any file failed. ``--json`` lists both."""
    import json
    import sys

    import numpy as np

    from edgemnist.commands._common import with_flags
    from edgemnist.errors import InputError, UnverifiedError
    from edgemnist.images import load_digit

    digits, errors = {}, {}
    for i, path in enumerate(args.images):  # every image is read before the model loads
        try:
            digits[i] = load_digit(path, invert=args.invert)
        except InputError as exc:  # this file only; a missing Pillow (MissingDependencyError) stops everything
            errors[i] = " ".join(str(with_flags(exc)).split())
    proba = {}
    if digits:
        from edgemnist.predictor import Predictor

        try:
            predictor = Predictor.load(
                args.model, threads=args.threads, allow_unverified=args.allow_unverified, public_key=args.public_key
            )
        except UnverifiedError as exc:
            raise with_flags(exc) from None
        with predictor:
            rows = predictor.predict_proba(np.stack(list(digits.values())))
        proba = dict(zip(digits, rows, strict=True))
    if args.json:
        out = []
        for i, path in enumerate(args.images):
            if i in errors:
                out.append({"image": path, "error": errors[i]})
                continue
            row = proba[i]
            label = int(row.argmax())
            out.append(
                {
                    "image": path,
                    "label": label,
                    "confidence": float(row[label]),
                    "probabilities": [round(float(v), 6) for v in row],
                }
            )
        print(json.dumps(out, indent=2))
    else:
        width = max(len(args.images[i]) for i in proba) if proba else 0
        for i, path in enumerate(args.images):
            if i in errors:
                sys.stdout.flush()  # results and errors appear in the order of the files
                print(f"error: {errors[i]}", file=sys.stderr, flush=True)
                continue
            row = proba[i]
            label = int(row.argmax())
            print(f"{path:<{width}}  {label}  ({row[label]:.2%})")
    return 2 if errors else 0
