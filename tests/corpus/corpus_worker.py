"""The corruption corpus's child process, run as a script: ``python corpus_worker.py images.npy``.

It reads JSON cases from stdin, one a line, and writes ``{"start": id}`` then one JSON result per case on its own
copy of stdout. fds 1 and 2 are captured per case, so whatever a runtime prints cannot garble the protocol. A
``load`` case is one ``Predictor.load`` + predict on the images; a ``cli`` case is one in-process
``edgemnist.cli.main(argv)`` call. tests/corpus/test_corpus.py runs it and judges the results.
"""

import functools
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np


def captured(fn):
    """``fn()``'s result dict, with what it wrote to fds 1 and 2 added as its "stdout" and "stderr" tails."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    try:
        result = fn()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    out.seek(0)
    err.seek(0)
    result["stdout"] = out.read().decode(errors="replace")[-3000:]
    result["stderr"] = err.read().decode(errors="replace")[-3000:]
    return result


def load(case, images):
    from edgemnist.errors import EdgemnistError
    from edgemnist.predictor import Predictor

    try:
        p = Predictor.load(case["path"])
        proba = p.predict_proba(images)
        labels = p.predict(images[:3]).labels
        finite = bool(np.isfinite(proba).all())
        return {
            "outcome": "loaded",
            "shape": list(proba.shape),
            "dtype": str(proba.dtype),
            "finite": finite,
            "sum_err": float(np.abs(proba.sum(1, dtype=np.float64) - 1).max()) if finite else None,
            "labels": labels.tolist(),
            "argmax": proba.argmax(1).tolist(),
        }
    except EdgemnistError as exc:
        return {"outcome": "error", "type": type(exc).__name__, "exit_code": exc.exit_code, "message": str(exc)[:500]}
    except BaseException as exc:
        return {"outcome": "raised", "type": type(exc).__name__, "message": traceback.format_exc()[-3000:]}


def cli(case):
    from edgemnist.cli import main

    try:
        rc = main(case["argv"])
    except SystemExit as exc:
        rc = exc.code
    except BaseException:
        traceback.print_exc()
        rc = "raised"
    return {"outcome": "cli", "rc": rc}


def main(images_npy: str) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    images = np.load(images_npy, allow_pickle=False)
    for line in sys.stdin:
        case = json.loads(line)
        proto.write(json.dumps({"start": case["id"]}) + "\n")
        start = time.perf_counter()
        result = captured(
            functools.partial(load, case, images) if case["kind"] == "load" else functools.partial(cli, case)
        )
        result["id"], result["seconds"] = case["id"], round(time.perf_counter() - start, 3)
        proto.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
