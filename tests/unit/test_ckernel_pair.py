"""A C kernel pair is compiled only when it is exactly what edgemnist's generator writes (reader.check_pair,
edgemnist.build.compile.verified_pair): each hostile variant is refused with an ArtifactError before any compiler
runs, for every build target (every subprocess call is made to fail the test). Fast tier: a synthetic
784 -> 512 -> 10 model, no TensorFlow, no compiler."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from edgemnist.build import compile, targets
from edgemnist.build.host import HostKernel
from edgemnist.ckernel import layout, reader, writer
from edgemnist.ckernel.model import Dense, Model
from edgemnist.errors import ArtifactError
from edgemnist.predictor.c import CBackend


def model(seed: int = 0, n_in: int = 784, hidden: int = 512, n_out: int = 10, name: str = "model.int8.tflite"):
    rng = np.random.default_rng(seed)
    h_scale, logit_scale = 0.05, 0.2
    fc1 = Dense(
        weights=rng.integers(-127, 128, (hidden, n_in), dtype=np.int8),
        bias=rng.integers(-4000, 4000, hidden).astype(np.int32),
        weight_scales=tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.01, hidden)),
        input_scale=float(np.float32(1 / 255)),
        input_zero_point=-128,
        output_scale=h_scale,
        output_zero_point=-128,
        relu=True,
    )
    fc2 = Dense(
        weights=rng.integers(-127, 128, (n_out, hidden), dtype=np.int8),
        bias=rng.integers(-4000, 4000, n_out).astype(np.int32),
        weight_scales=tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.01, n_out)),
        input_scale=h_scale,
        input_zero_point=-128,
        output_scale=logit_scale,
        output_zero_point=3,
        relu=False,
    )
    return Model(
        layers=(fc1, fc2),
        softmax_beta=1.0,
        softmax_input_scale=logit_scale,
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=name,
        source_sha256=f"{seed:064x}",
        source_bytes=0,
    )


@pytest.fixture(scope="module")
def files():
    out = writer.render(model())
    return out[layout.SOURCE_NAME], out[layout.HEADER_NAME]


@pytest.fixture
def no_compiler(monkeypatch):
    """Every way to run a compiler fails the test: a refused pair must never reach one."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"a subprocess was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", "/nonexistent/edgemnist-test-cache")
    return calls


def write(tmp_path, c: str | bytes, h: str | bytes):
    c_path, h_path = tmp_path / layout.SOURCE_NAME, tmp_path / layout.HEADER_NAME
    c_path.write_bytes(c.encode() if isinstance(c, str) else c)
    h_path.write_bytes(h.encode() if isinstance(h, str) else h)
    return c_path


def test_generated_pairs_pass(files):
    values = reader.check_pair(files[0].encode(), files[1].encode())
    assert values["n_in"] == "784" and values["rows1"] == "512" and values["n_layers"] == "2"
    assert values["source_name"] == "model.int8.tflite"
    for m, kw in (
        (model(1), {"general_shifts": True}),
        (model(2, n_in=48, hidden=16), {}),
        (model(3, n_in=16, hidden=32, n_out=3, name='odd ?? /* name */ "x".tflite'), {}),
    ):
        out = writer.render(m, **kw)
        reader.check_pair(out[layout.SOURCE_NAME].encode(), out[layout.HEADER_NAME].encode())


def test_generator_names_cannot_close_a_comment_or_form_a_trigraph():
    out = writer.render(model(4, n_in=16, hidden=16, name='a*/b/*c??/d\\e"f\x1b.tflite'))
    h = out[layout.HEADER_NAME]
    assert '#define EDGEMNIST_SOURCE_NAME "a* /b/ *c?_/d/e\'f?.tflite"' in h


HOSTILE = {
    "appended function": lambda c, h: (c + "\nint edgemnist_evil(void) { return 1; }\n", h),
    "constructor": lambda c, h: (
        c.replace(
            "static int32_t em_srdhm(",
            "__attribute__((constructor)) static void em_init(void) {}\nstatic int32_t em_srdhm(",
            1,
        ),
        h,
    ),
    "extra include": lambda c, h: (
        c.replace('#include "edgemnist_model.h"\n', '#include "edgemnist_model.h"\n#include "/etc/passwd"\n', 1),
        h,
    ),
    "inline asm": lambda c, h: (
        c.replace("  int32_t acc[4];\n", '  int32_t acc[4];\n  __asm__ volatile("nop");\n', 1),
        h,
    ),
    "incbin in the DSP asm": lambda c, h: (c.replace('"  .balign 4\\n"', '"  .incbin \\"/etc/shadow\\"\\n"', 1), h),
    "constant spelled in hex": lambda c, h: (
        c.replace("#define EM_FC1_OUT_ZP (-128)", "#define EM_FC1_OUT_ZP (-0x80)"),
        h,
    ),
    "constant with a leading zero": lambda c, h: (c.replace("#define EM_ROWS1 512", "#define EM_ROWS1 0512"), h),
    "changed macro": lambda c, h: (c.replace("#define EM_INT32_MAX 2147483647", "#define EM_INT32_MAX 2147483646"), h),
    "array longer than declared": lambda c, h: (
        c.replace(
            "static const int32_t em_m2[EM_ROWS2] = {\n", "static const int32_t em_m2[EM_ROWS2] = {\n  1073741824,\n"
        ),
        h,
    ),
    "declared size grown with the array": lambda c, h: (
        c.replace("em_w1[401408] EM_ALIGNED = {\n", "em_w1[401409] EM_ALIGNED = {\n  0,\n"),
        h,
    ),
    "weight out of int8 range": lambda c, h: (c.replace("EM_ALIGNED = {\n  ", "EM_ALIGNED = {\n  1", 1), h),
    "multiplier out of range": lambda c, h: (
        c.replace("static const int32_t em_m1[EM_ROWS1] = {\n  ", "static const int32_t em_m1[EM_ROWS1] = {\n  9", 1),
        h,
    ),
    "header-only: extra macro": lambda c, h: (
        c,
        h.replace("#define EDGEMNIST_MACS", "#define memcpy evil\n#define EDGEMNIST_MACS"),
    ),
    "header-only: changed size": lambda c, h: (
        c,
        h.replace("#define EDGEMNIST_INPUT_SIZE 784", "#define EDGEMNIST_INPUT_SIZE 785"),
    ),
    "header-only: quoted stdint": lambda c, h: (c, h.replace("#include <stdint.h>", '#include "stdint.h"')),
    "header of another model": lambda c, h: (c, h.replace("0" * 64, "1" * 64)),
    "other template version": lambda c, h: (
        c.replace("so the int8 scores are byte-identical", "so the int8 scores are identical"),
        h,
    ),
    "non-ASCII": lambda c, h: (c.replace("do not edit", "do not edit \u00e9"), h),
    "CRLF line ends": lambda c, h: (c.replace("\n", "\r\n"), h),
    "trailing newline": lambda c, h: (c + "\n", h),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE))
def test_hostile_pair_is_refused_before_any_compiler(variant, files, tmp_path, no_compiler):
    c, h = HOSTILE[variant](*files)
    assert (c, h) != files, "the variant must change something"
    c_path = write(tmp_path, c, h)
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel|generated from another model"):
        HostKernel(c_path)
    with pytest.raises(ArtifactError):
        CBackend(c_path)
    for target in targets.TARGETS:  # every target's build proves the pair first
        with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel|generated from another model"):
            compile.build(target, c_path)
    assert no_compiler == []


def test_refusal_says_where_and_what_was_expected(files, tmp_path, no_compiler):
    c, h = HOSTILE["extra include"](*files)
    with pytest.raises(ArtifactError) as err:
        compile.verified_pair(write(tmp_path, c, h))
    msg = str(err.value)
    assert "line 24" in msg and "/etc/passwd" in msg and "re-export" in msg and "\n" not in msg


def test_oversized_and_odd_files_are_refused_without_reading_them(files, tmp_path, no_compiler, monkeypatch):
    c_path = write(tmp_path, files[0], files[1])
    with open(c_path, "ab") as f:  # sparse: larger than the largest kernel the allow-list permits
        f.truncate(layout.MAX_SOURCE_BYTES + 1)
    with pytest.raises(ArtifactError, match="larger than"):
        compile.verified_pair(c_path)
    c_path = write(tmp_path, files[0], files[1] + " " * layout.MAX_HEADER_BYTES)
    with pytest.raises(ArtifactError, match="larger than"):
        compile.verified_pair(c_path)
    c_path = write(tmp_path, files[0], files[1])
    (tmp_path / layout.HEADER_NAME).unlink()
    with pytest.raises(ArtifactError, match="header .* is missing"):
        compile.verified_pair(c_path)
    os.mkfifo(tmp_path / layout.HEADER_NAME)  # would block a plain open()
    with pytest.raises(ArtifactError, match="not a regular file"):
        compile.verified_pair(c_path)
    assert no_compiler == []


def test_size_limits_follow_from_the_allow_list():
    from edgemnist import allowlist

    assert layout.MAX_SOURCE_BYTES >= 2 * allowlist.MAX_TENSOR_ELEMENTS * 6
    assert layout.MAX_SOURCE_BYTES < 32 << 20  # far below the 256 MiB of the old micro reader
