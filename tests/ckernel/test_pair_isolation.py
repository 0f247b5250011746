"""The C artifact compiles only as edgemnist generated it, and from a private copy: a generated pair loads through
``Predictor``; a shadowing ``stdint.h`` (or ``edgemnist_model.h`` include dir) beside the artifact, or on CPATH, is
never read by the host, firmware or wasm builds. Real compilers; a synthetic 784 -> 128 -> 10 model (no training;
small enough for every board's flash, the micro:bit's 256 KB included)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from toolchains import requires

from edgemnist.build import compile, emulate, targets
from edgemnist.build.host import HostKernel
from edgemnist.ckernel import layout, writer
from edgemnist.errors import ArtifactError
from edgemnist.predictor import Predictor
from edgemnist.web.site import build_wasm

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_ckernel_pair import HOSTILE, model  # noqa: E402

pytestmark = pytest.mark.slow

SHADOW = "#error a header beside the artifact was read\n"


@pytest.fixture
def pair(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path / "cache"))  # a real compile, not a cache hit
    art = tmp_path / "artifact"
    art.mkdir()
    for name, text in writer.render(model(7, hidden=128)).items():
        (art / name).write_text(text)
    (art / "stdint.h").write_text(SHADOW)
    (art / "include").mkdir()
    (art / "include" / "stdint.h").write_text(SHADOW)
    monkeypatch.setenv("CPATH", f"{art}:{art / 'include'}")
    monkeypatch.setenv("C_INCLUDE_PATH", str(art))
    return art / layout.SOURCE_NAME


def _isolated(build: compile.Build, pair: Path) -> None:
    for cmd in build.commands:
        assert not any(str(pair.parent) in arg for arg in cmd), cmd
        assert not any(arg.startswith("-I") for arg in cmd), cmd


def test_generated_pair_loads_and_ignores_headers_beside_it(pair):
    requires("cc")
    p = Predictor.load(pair)
    x = np.random.default_rng(0).integers(0, 256, (16, 784), dtype=np.uint8)
    kernel = HostKernel(pair)
    scores, digits = kernel.run(x)
    assert kernel.build.cached, "the second load is a cache hit"
    assert not compile.build("host", pair, extra_flags=("-DEDGEMNIST_UNUSED",)).cached  # other flags: a new build
    _isolated(kernel.build, pair)
    assert np.array_equal(digits, scores.argmax(1))
    assert np.array_equal(p.predict(x.reshape(-1, 28, 28)).labels, digits)


def test_hostile_variant_never_reaches_the_real_compiler(pair, tmp_path, monkeypatch):
    """$CC names a compiler that records its calls: a refused pair never gets to it, on any target."""
    requires("cc")
    calls = tmp_path / "calls"
    spy = tmp_path / "spy-cc"
    spy.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec cc "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setenv("CC", str(spy))
    HostKernel(pair)
    assert calls.read_text().count("-c edgemnist_model.c") == 1  # the spy is the compiler the build runs
    calls.unlink()
    c, h = HOSTILE["constructor"](pair.read_text(), pair.with_name(layout.HEADER_NAME).read_text())
    pair.write_text(c)
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        Predictor.load(pair)
    assert not calls.exists()


@pytest.mark.parametrize("target", [t.name for t in targets.TARGETS if t.kind == "firmware"])
def test_firmware_build_ignores_headers_beside_it(pair, target):
    requires(target)
    built = compile.build(target, pair)
    assert built.file.is_file() and not built.cached
    _isolated(built, pair)
    assert emulate.run(target, pair, np.zeros((1, 784), np.uint8)).images == 1
    pair.write_text(pair.read_text() + "\nint edgemnist_evil(void) { return 1; }\n")
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        compile.build(target, pair)


def test_wasm_build_ignores_headers_beside_it(pair, tmp_path):
    requires("wasm32")
    for path in ("simd", "scalar"):
        built = compile.build("wasm32", pair, path=path)
        assert built.file.stat().st_size > 0
        _isolated(built, pair)
    build_wasm(pair, tmp_path / "w.wasm", path="scalar")
    pair.with_name(layout.HEADER_NAME).write_text(pair.with_name(layout.HEADER_NAME).read_text() + "\n")
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        build_wasm(pair, tmp_path / "w2.wasm", path="scalar")
