"""edgemnist evaluate MODEL... : accuracy on the 10,000 test images, with a pass/fail gate."""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_data_dir, add_public_key, add_tolerance, model_files, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL", help=f"artifacts to evaluate: {model_files()}")
    add_tolerance(p)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    add_data_dir(p)
    p.add_argument("--threads", type=positive_int, default=1, metavar="N", help="runtime threads (default 1)")
    p.add_argument(
        "--allow-unverified",
        action="store_true",
        help="evaluate artifacts whose manifest records a failed verification",
    )
    add_public_key(p)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from edgemnist import spec
    from edgemnist.cli import _one_line
    from edgemnist.commands._common import with_flags
    from edgemnist.data import load_test
    from edgemnist.errors import ArtifactError, GateError, require_file
    from edgemnist.evaluate import evaluate, format_report
    from edgemnist.formats import format_for_path

    threshold = spec.accuracy_floor(args.tolerance)  # validates --tolerance before loading anything
    for model in args.models:  # every path is checked before any report is printed
        path = Path(model)
        format_for_path(path)  # ArtifactError for an unknown suffix
        require_file(path)
        if not path.is_file():
            raise ArtifactError(f"{path}: not a file")
    test_data = load_test(args.data_dir)
    results, passed = [], True
    for model in args.models:
        try:
            report = evaluate(
                model,
                tolerance=args.tolerance,
                threads=args.threads,
                allow_unverified=args.allow_unverified,
                test_data=test_data,
                public_key=args.public_key,
            )
        except GateError as exc:  # the artifact changed since export, or failed its verification
            exc = with_flags(exc)
            passed = False
            results.append({"path": model, "passed": False, "error": str(exc)})
            if not args.json:
                print(f"error: {_one_line(exc)}", file=sys.stderr)
            continue
        passed = passed and report.passed
        results.append(report.to_dict())
        if not args.json:
            print(format_report(report))
    if args.json:
        references = {r["reference_accuracy"] for r in results if "reference_accuracy" in r}
        reference = references.pop() if len(references) == 1 else spec.REFERENCE_ACCURACY  # one dataset's gate
        if len(references) == 0:
            threshold = spec.accuracy_floor(args.tolerance, reference)
        print(
            json.dumps(
                {
                    "passed": passed,
                    "threshold": threshold,
                    "tolerance_pp": args.tolerance,
                    "reference_accuracy": reference,
                    "results": results,
                },
                indent=2,
            )
        )
    elif len(args.models) > 1:
        print(f"{sum(r['passed'] for r in results)}/{len(results)} passed")
    return 0 if passed else 1
