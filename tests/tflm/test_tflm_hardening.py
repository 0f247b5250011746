"""TFLite Micro's header and array travel together: a header of another export does not compile, a damaged
header is not trusted, TFLM runs only arenas proven in a child process, and the wrapper's errors are
ArtifactErrors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from toolchains import requires

from edgemnist.errors import ArtifactError
from edgemnist.tflm import arena as tflm_arena
from edgemnist.tflm import reader, runner, writer

REPO = Path(__file__).resolve().parents[2]


@requires("g++")
def test_header_of_another_export_does_not_compile(tmp_path):
    """model_data.cc static_asserts the model id model_data.h states: a header and an array from two exports
    (e.g. a kill between the header and the array landing) do not build. (Small stand-in arrays: the real
    pair is compiled in test_micro.py.)"""
    one, other = b"TFL3 model one" * 4, b"TFL3 model two" * 4
    q = runner.Quant(1 / 255, -128)
    (tmp_path / "model_data.h").write_text(
        writer.render_header(
            model_bytes=one,
            arena_bytes=1024,
            arena_min_bytes=1020,
            input=q,
            output=q,
            source=None,
            source_sha256=None,
            num_classes=10,  # a stand-in array states no output width of its own
        )
    )

    def compiles(model_bytes: bytes) -> subprocess.CompletedProcess:
        (tmp_path / "model_data.cc").write_text(writer.render_source(model_bytes, source_sha256=None))
        return subprocess.run(
            ["g++", "-std=c++17", "-fsyntax-only", str(tmp_path / "model_data.cc")], capture_output=True, text=True
        )

    ok = compiles(one)
    assert ok.returncode == 0, ok.stderr
    torn = compiles(other)
    assert torn.returncode != 0 and "generated for another model" in torn.stderr


def test_damaged_header_is_not_trusted_and_tflm_runs_only_proven_arenas(micro_pair, tmp_path, mnist):
    header = micro_pair.path.with_name("model_data.h").read_text()
    arena = micro_pair.manifest["micro"]["arena_bytes"]
    shutil.copy(micro_pair.path, tmp_path / "model_data.cc")
    # One digit of the arena changed: the constants no longer agree, so the header is ignored.
    (tmp_path / "model_data.h").write_text(header.replace(f"= {arena};", f"= {arena // 10};"))
    assert reader.read_micro(tmp_path / "model_data.cc").arena_bytes == 0
    # A too-small arena that TFLM would crash on (SIGSEGV) is refused from a child process instead.
    model = reader.read_micro(micro_pair.path).model_bytes
    with pytest.raises(ArtifactError, match="cannot run the model with a 1024-byte arena"):
        tflm_arena.ensure_runs(model, 1024)
    tflm_arena.ensure_runs(model, arena)  # and the real one runs


def test_tflm_wrapper_errors_are_artifact_errors(micro_pair):
    """The TFLM wrapper parses the flatbuffer in Python first and raises struct.error / TypeError, not
    ValueError; MicroRunner turns any of them into ArtifactError. (In a child: this is TFLM.)"""
    code = f"""
from edgemnist.errors import ArtifactError
from edgemnist.tflm import arena as tflm_arena
from edgemnist.tflm import reader
from edgemnist.tflm import runner
model = reader.read_micro({str(micro_pair.path)!r}).model_bytes
for cut in (1000, 100000):
    try:
        runner.MicroRunner(model[:cut], 1 << 20)
    except ArtifactError as exc:
        assert "TFLite Micro cannot load" in str(exc), exc
    else:
        raise SystemExit("loaded a truncated model")
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
