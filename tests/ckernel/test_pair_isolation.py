"""The C artifact compiles only as edgemnist generated it, and from a private copy: a generated pair loads through
``Predictor``; a shadowing ``stdint.h`` (or ``edgemnist_model.h`` include dir) beside the artifact, or on CPATH, is
never read by the host, Cortex-M4 or wasm builds. Real compilers; a synthetic 784 -> 512 -> 10 model (no training)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgemnist.ckernel import host, layout, m4, wasm, writer
from edgemnist.errors import ArtifactError
from edgemnist.predictor import Predictor

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_ckernel_pair import HOSTILE, model  # noqa: E402

pytestmark = pytest.mark.slow

SHADOW = "#error a header beside the artifact was read\n"


@pytest.fixture
def pair(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path / "cache"))  # a real compile, not a cache hit
    art = tmp_path / "artifact"
    art.mkdir()
    for name, text in writer.render(model(7)).items():
        (art / name).write_text(text)
    (art / "stdint.h").write_text(SHADOW)
    (art / "include").mkdir()
    (art / "include" / "stdint.h").write_text(SHADOW)
    monkeypatch.setenv("CPATH", f"{art}:{art / 'include'}")
    monkeypatch.setenv("C_INCLUDE_PATH", str(art))
    return art / layout.SOURCE_NAME


def test_generated_pair_loads_and_ignores_headers_beside_it(pair, toolchain, monkeypatch):
    toolchain("cc")
    seen = []
    real = host._run_compiler

    def spy(cmd, cwd):
        seen.append((cmd, cwd))
        return real(cmd, cwd)

    monkeypatch.setattr(host, "_run_compiler", spy)
    p = Predictor.load(pair)
    x = np.random.default_rng(0).integers(0, 256, (16, 784), dtype=np.uint8)
    scores, digits = host.HostKernel(pair).run(x)
    assert len(seen) == 1, "the second load is a cache hit"
    cmd, cwd = seen[0]
    assert cwd != pair.parent and not any(str(pair.parent) in arg for arg in cmd)
    assert not any(arg.startswith("-I") for arg in cmd)
    assert np.array_equal(digits, scores.argmax(1))
    assert np.array_equal(p.predict(x.reshape(-1, 28, 28)).labels, digits)


def test_hostile_variant_never_reaches_the_real_compiler(pair, toolchain, monkeypatch):
    toolchain("cc")
    calls = []
    monkeypatch.setattr(host, "_run_compiler", lambda cmd, cwd: calls.append(cmd))
    c, h = HOSTILE["constructor"](pair.read_text(), pair.with_name(layout.HEADER_NAME).read_text())
    pair.write_text(c)
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        Predictor.load(pair)
    assert calls == []


def test_cortex_m4_build_ignores_headers_beside_it(pair, tmp_path, toolchain):
    toolchain("arm-none-eabi-gcc")
    m4.require()
    elf = m4.build(pair, tmp_path, "dsp")
    assert elf.is_file()
    pair.write_text(pair.read_text() + "\nint edgemnist_evil(void) { return 1; }\n")
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        m4.build(pair, tmp_path, "dsp")


def test_wasm_build_ignores_headers_beside_it(pair, tmp_path, toolchain):
    toolchain("clang", "wasm-ld")
    out = wasm.build(pair, tmp_path / "m.wasm")
    assert out.stat().st_size > 0
    from edgemnist.web import build

    build.build_wasm(pair, tmp_path / "w.wasm", simd=False)
    pair.with_name(layout.HEADER_NAME).write_text(pair.with_name(layout.HEADER_NAME).read_text() + "\n")
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        build.build_wasm(pair, tmp_path / "w2.wasm", simd=False)
