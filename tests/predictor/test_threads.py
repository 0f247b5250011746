"""Threads share one Predictor: eight threads at once get bit-for-bit the sequential answers, on every backend,
for mixed batch sizes and both input paths (uint8 pixels and floats)."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from edgemnist.predictor import Predictor


def _eight_threads(work) -> tuple[list, list[int]]:
    """Run ``work(k)`` in 8 threads released together; ``work`` yields, per call, None or a failure to report.
    Returns (failures, calls done per thread); an exception in a thread is a failure too."""
    failures, done = [], [0] * 8
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        try:
            barrier.wait()
            for failure in work(k):
                if failure is not None:
                    failures.append(failure)
                done[k] += 1
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures, done


@pytest.mark.parametrize(
    "case",
    [("tflite", "int8", "int8"), ("tflite", "float32", "float"), ("onnx", "int8", "float")],
    ids=lambda c: "-".join(c),
)
def test_eight_threads_equal_sequential(case, artifact_path, mnist):
    p = Predictor.load(artifact_path(*case), threads=1)
    images = mnist.test_images[:300]
    sizes = [1, 7, 300, 3, 1, 64]
    expected = {n: p.predict_proba(images[:n]) for n in set(sizes)}

    def work(k):
        for i in range(60):
            n = sizes[(i + k) % len(sizes)]
            got = p.predict_proba(images[:n])
            yield None if np.array_equal(got, expected[n]) else (k, i, n)

    failures, results = _eight_threads(work)
    assert not failures and results == [60] * 8


# test_eight_threads_equal_sequential mixes batch sizes on three backends (60 calls per thread); this one covers
# every backend, both input paths (uint8 pixels and floats), at scale.
THREAD_CASES = [
    ("tflite", "int8", "int8", 500),
    ("tflite", "float32", "float", 500),
    ("onnx", "int8", "float", 500),
    ("onnx", "float32", "float", 500),
    ("micro", "int8", "int8", 60),
    ("keras", "float32", "float", 60),
]


@pytest.mark.parametrize("fmt,mode,io,calls", THREAD_CASES, ids=[f"{c[0]}-{c[1]}" for c in THREAD_CASES])
def test_eight_threads_share_one_predictor_bit_for_bit(fmt, mode, io, calls, export_artifact, model_path, mnist):
    path = model_path if fmt == "keras" else export_artifact(fmt, mode, io).path
    p = Predictor.load(path)
    images = mnist.test_images[:64]
    # Each call: one of 64 single images or a small batch, as uint8 pixels or as floats in [0, 1].
    inputs = [images[i % 64] for i in range(64)] + [images[i : i + 3] for i in range(0, 60, 7)]
    inputs += [x / 255.0 for x in inputs[::5]]
    expected = [p.predict_proba(x) for x in inputs]  # sequential reference

    def work(k):
        rng = random.Random(k)
        for _ in range(calls):
            i = rng.randrange(len(inputs))
            yield None if np.array_equal(p.predict_proba(inputs[i]), expected[i]) else (k, i)

    failures, done = _eight_threads(work)
    assert not failures and done == [calls] * 8, failures[:5]
