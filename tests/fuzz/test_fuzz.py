"""The fuzz suite: fresh mutants of the session's artifacts in child processes (``campaign.run_campaign``),
the known hostile files as regression cases, and the structural checkers fed random damage in-process.

Budget: ``EDGEMNIST_FUZZ_MUTANTS`` (default 150, ~20 s on a 2-core box) and ``EDGEMNIST_FUZZ_SEED`` (default:
a fresh seed per run, printed with any failure so it can be replayed); ``EDGEMNIST_FUZZ_JOBS`` children at once.
"""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import builders, harness, sources
from fuzz.campaign import run_campaign

pytestmark = pytest.mark.slow

MUTANTS = int(os.environ.get("EDGEMNIST_FUZZ_MUTANTS", "150"))
SEED = int(os.environ.get("EDGEMNIST_FUZZ_SEED") or random.SystemRandom().randrange(1 << 30))
JOBS = int(os.environ.get("EDGEMNIST_FUZZ_JOBS", "1"))
FUZZED = ("tflite-int8", "tflite-float32", "onnx-int8", "onnx-float32", "onnx-dynamic", "micro")


@pytest.fixture(scope="module")
def src(request):
    return sources.artifacts(request)


def test_fresh_mutants_never_crash_hang_trace_or_blow_memory(src, request, tmp_path, record_property):
    summary = run_campaign(
        {n: src[n] for n in FUZZED},
        sources.mnist_images(request),
        MUTANTS,
        seed=SEED,
        jobs=JOBS,
        workdir=tmp_path,
        log=lambda line: None,
    )
    record_property("fuzz", json.dumps({k: v for k, v in summary.items() if k != "failed"}))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("failed", "outcomes")}))
    assert summary["failures"] == 0, f"seed {SEED}: " + json.dumps(summary["failed"][:5], indent=1)
    loaded = sum(v.get("loaded", 0) for k, v in summary["outcomes"].items() if k.endswith(":load"))
    refused = sum(v.get("error", 0) for k, v in summary["outcomes"].items() if k.endswith(":load"))
    assert loaded and refused, summary["outcomes"]  # the mutants reach both paths, not just the first check


def test_the_eight_findings_stay_fixed(src, request, tmp_path):
    npy = tmp_path / "images.npy"
    np.save(npy, sources.mnist_images(request))
    server = harness.ForkServer(npy)
    try:
        failed = {}
        for name, case in builders.findings(src, tmp_path / "files"):
            r = server.run({**case, "id": name, "workdir": str(tmp_path / "runs" / name)})
            if harness.problems(r, case.get("memory", harness.MEMORY_LIMIT)):
                failed[name] = harness.problems(r)
    finally:
        server.close()
    assert not failed, failed


def _damage(data: bytes, draw) -> bytes:
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        pos = draw(st.integers(0, max(len(b) - 1, 0)))
        if op == "flip" and b:
            b[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and b:
            b[pos] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
        elif op == "cut":
            del b[pos : pos + draw(st.integers(1, 64))]
        else:
            b[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    return bytes(b)


@pytest.mark.parametrize("name", ["tflite-int8", "tflite-float32", "onnx-int8", "onnx-dynamic", "micro"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_checkers_raise_only_artifact_errors(name, data, src):
    """In-process: damaged bytes make each checker return or raise ArtifactError, nothing else."""
    from edgemnist.errors import ArtifactError
    from edgemnist.flatbuffer import check_tflite
    from edgemnist.onnxcheck import check_onnx
    from edgemnist.tflm.reader import parse_text

    raw = src[name].read_bytes()
    if name == "micro":  # damage the text near the array's start, its end and the length constant
        text = raw.decode()
        cut = data.draw(st.sampled_from([0, 900, len(text) - 200]))
        damaged = text[:cut] + _damage(text[cut : cut + 400].encode(), data.draw).decode("latin-1") + text[cut + 400 :]
        check = lambda: parse_text(damaged)  # noqa: E731
    else:
        damaged = _damage(raw, data.draw)
        fn = check_tflite if name.startswith("tflite") else check_onnx
        check = lambda: fn(damaged, "x")  # noqa: E731
    try:
        check()
    except ArtifactError:
        pass


def test_allow_lists_hold_every_export_mode(src):
    """Every real export passes its checker, and uses only allow-listed operators (so the lists are not wider
    than needed: each listed operator is used by at least one mode)."""
    import onnx
    from ai_edge_litert import schema_py_generated as schema

    from edgemnist import allowlist
    from edgemnist.flatbuffer import check_tflite
    from edgemnist.onnxcheck import check_onnx
    from edgemnist.tflm.reader import read_array

    tflite_used, onnx_used = set(), set()
    for name, path in src.items():
        if name == "micro":
            data = read_array(path)
        else:
            data = path.read_bytes()
        if name.startswith("onnx"):
            check_onnx(data, name)
            onnx_used |= {n.op_type for n in onnx.load_from_string(data).graph.node}
        else:
            check_tflite(data, name)
            model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
            tflite_used |= {max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes}
    assert tflite_used == set(allowlist.TFLITE_OPS), tflite_used
    assert onnx_used == set(allowlist.ONNX_OPS), onnx_used
