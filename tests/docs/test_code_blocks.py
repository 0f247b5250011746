"""Every ```python block of the README and docs/ runs as pasted, and every ```c block compiles warning-free and runs.

Each block runs in a fresh interpreter whose working directory holds what the pages name after the two commands:
``export/`` with the session's trained and exported artifacts (copies: the session's own stay read-only),
``signing-key.pem`` / ``signing-key.pub.pem`` with ``export/model.int8.tflite`` signed by it (docs/signing.md).
Shell blocks are checked by tests/unit/test_docs.py (every ``edgemnist`` line parses with the real parser).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdblocks import REPO, all_blocks  # noqa: E402
from toolchains import requires

PYTHON = all_blocks("python")
C = all_blocks("c")
#: A quoted path under export/ in a block: the sandbox must hold it.
_EXPORT_PATH = re.compile(r"""["'](export/[^"']+)["']""")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, export_artifact, workdir):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from edgemnist.signer import sign

    export_artifact("tflite", "int8")
    root = tmp_path_factory.mktemp("docs-sandbox")
    shutil.copytree(workdir, root / "export", ignore=shutil.ignore_patterns("*.sig"))
    key = ec.generate_private_key(ec.SECP256R1())
    (root / "signing-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (root / "signing-key.pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    sign(root / "export" / "model.int8.tflite", root / "signing-key.pem")
    return root


def test_the_docs_have_python_and_c_blocks():
    assert len(PYTHON) >= 5 and C, [b.where for b in PYTHON + C]


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_python_block_runs_as_pasted(block, sandbox, data_dir):
    missing = [p for p in _EXPORT_PATH.findall(block.text) if not (sandbox / p).exists()]
    assert not missing, f"{block.where} names {missing}, which the main job writes but this sandbox lacks"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EDGEMNIST_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", block.text], cwd=sandbox, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{block.where}: the block fails as pasted:\n{proc.stderr[-3000:]}"


_MAIN = """#include "edgemnist_model.h"
int classify(void);
int main(void) { int d = classify(); return d >= 0 && d < EDGEMNIST_OUTPUT_SIZE ? 0 : 1; }
"""


@pytest.mark.parametrize("block", C, ids=[b.where for b in C])
def test_c_block_compiles_against_the_exported_kernel_and_runs(block, export_artifact, tmp_path):
    requires("cc")
    kernel = export_artifact("c").path
    for name in ("edgemnist_model.c", "edgemnist_model.h", "edgemnist_preprocess.c", "edgemnist_preprocess.h"):
        shutil.copy(kernel.parent / name, tmp_path / name)
    (tmp_path / "doc_block.c").write_text(block.text)
    (tmp_path / "main.c").write_text(_MAIN)
    cmd = [
        "cc",
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-pedantic",
        "-Werror",
        "-O1",
        "doc_block.c",
        "edgemnist_model.c",
        "edgemnist_preprocess.c",
        "main.c",
        "-o",
        "prog",
    ]
    build = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"{block.where}: does not compile as pasted:\n{build.stderr[-3000:]}"
    run = subprocess.run([str(tmp_path / "prog")], capture_output=True, timeout=60)
    assert run.returncode == 0, f"{block.where}: the program did not return a digit"
