"""benchmarks/aarch64.py for real: the C kernel cross-compiled for aarch64 under qemu-aarch64-static (always), and
the whole device path in an arm64 Debian chroot (opt-in: it needs root, network access to the Debian mirror and
the package index, and 10+ minutes the first time)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from toolchains import requires

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "aarch64.py"


@pytest.fixture(scope="module")
def a64():
    spec = importlib.util.spec_from_file_location("bench_script_aarch64", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    yield module
    sys.modules.pop(spec.name, None)


def _copy(result, folder: Path) -> Path:
    """The artifact, its manifest and (for the C kernel) its header, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    header = result.path.with_suffix(".h")
    for p in (result.path, result.manifest_path, *([header] if header.is_file() else [])):
        shutil.copy(p, folder / p.name)
    return folder


@requires("aarch64-linux-gnu-gcc", "qemu-aarch64-static")
def test_the_cross_compiled_c_kernel_gives_the_host_builds_bytes(a64, export_artifact, data_dir, tmp_path):
    folder = _copy(export_artifact("c"), tmp_path / "export")
    out = tmp_path / "results"
    argv = ["--cross-only", "--artifacts", str(folder), "--images", "500", "--out", str(out)]
    assert a64.main([*argv, "--data-dir", str(data_dir)]) == 0
    report = json.loads((out / "aarch64_cross.json").read_text(encoding="utf-8"))
    cross = report["cross"]
    assert (cross["images"], cross["bytes"]) == (500, 5000)
    assert cross["differing_bytes"] == 0 and cross["top1_changed"] == 0
    assert cross["compute_path"] and "aarch64-linux-gnu-gcc" in cross["compiler"] and "-static" in cross["flags"]
    assert "cortex-a72" in cross["emulator"]
    assert "0 of 5,000 score bytes differ" in (out / "aarch64_cross.md").read_text(encoding="utf-8")
    assert not any(folder.glob("*.tflite")), "the cross check exports nothing it does not need"


def test_bad_arguments_exit_2_with_one_line(a64, tmp_path, capsys):
    assert a64.main(["--cross-only", "--images", "0", "--artifacts", str(tmp_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: --images must be 1..10000, not 0"
    assert not list(tmp_path.iterdir())


@requires("EDGEMNIST_AARCH64", "mmdebstrap", "qemu-aarch64-static", "unshare", "chroot")
def test_the_device_path_in_an_arm64_chroot(a64, export_artifact, data_dir, tmp_path):
    """Opt-in (EDGEMNIST_AARCH64=1; EDGEMNIST_AARCH64_ROOTFS=DIR keeps the root file system between runs)."""
    problem = a64.binfmt_problem()
    if problem:
        pytest.fail(problem)
    folder = tmp_path / "export"
    for fmt, mode in (("tflite", "int8"), ("onnx", "int8"), ("c", None)):
        _copy(export_artifact(fmt, mode), folder)
    rootfs = Path(os.environ.get("EDGEMNIST_AARCH64_ROOTFS") or tmp_path / "rootfs")
    out = tmp_path / "results"
    argv = ["--rootfs", str(rootfs), "--artifacts", str(folder), "--images", "300", "--repeats", "1"]
    assert a64.main([*argv, "--out", str(out), "--data-dir", str(data_dir)]) == 0
    report = json.loads((out / "aarch64.json").read_text(encoding="utf-8"))
    assert report["arch_inside"] == "aarch64" and report["cross"]["differing_bytes"] == 0
    by_name = {r["name"]: r for r in report["runtimes"]}
    assert set(by_name) == {"litert", "onnx", "c"}
    for r in by_name.values():
        c = r["comparison"]
        assert r["machine_inside"] == "aarch64" and r["evaluate_passed"]
        assert c["images"] == 300 and c["top1_agreement"] >= 0.98
        assert abs(r["accuracy"] - r["accuracy_x86_64"]) <= 0.005
        assert r["venv_bytes"] > 10e6 and r["cold_ms_median"] > 0
        assert not any(p.startswith(("tensorflow", "keras")) for p in r["packages"])
    c = by_name["c"]
    assert c["comparison"]["differing_outputs"] == 0 and c["predict_equal"]
    assert c["accuracy"] == c["accuracy_x86_64"]
    assert not a64.mounts_under(rootfs)
