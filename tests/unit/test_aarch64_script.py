"""benchmarks/aarch64.py without running anything: apt sources, pip settings, binfmt, the chroot's command line,
the comparison, and the table rendered from the recorded results."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "aarch64.json"


@pytest.fixture(scope="module")
def a64():
    path = REPO / "benchmarks" / "aarch64.py"
    spec = importlib.util.spec_from_file_location("bench_script_aarch64_unit", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    yield module
    sys.modules.pop(spec.name, None)


DEB822 = """Types: deb
# a comment
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://mirror.example/debian
Suites: trixie
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: trixie
"""


def test_deb822_and_one_line_sources_give_uri_and_suites(a64):
    assert a64.deb_sources(DEB822, "debian.sources") == [
        ("http://deb.debian.org/debian", ["bookworm", "bookworm-updates"]),
        ("http://deb.debian.org/debian-security", ["bookworm-security"]),
    ]
    one_line = (
        "# deb http://old.example/debian buster main\n"
        "deb [arch=amd64 signed-by=/k.gpg] https://mirror.example/debian trixie main contrib\n"
        "deb-src http://src.example/debian trixie main\n"
        "deb http://deb.debian.org/debian bookworm main # trailing comment\n"
    )
    assert a64.deb_sources(one_line, "sources.list") == [
        ("https://mirror.example/debian", ["trixie"]),
        ("http://deb.debian.org/debian", ["bookworm"]),
    ]


def test_the_mirror_is_the_first_source_listing_the_suite(a64, tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.list").write_text("deb https://other.example/debian/ trixie main\n")
    (tmp_path / "sources.list.d" / "off.list.disabled").write_text("deb http://never.example bookworm main\n")
    assert a64.debian_mirror("bookworm", tmp_path) == "http://deb.debian.org/debian"
    assert a64.debian_mirror("trixie", tmp_path) == "https://other.example/debian"
    with pytest.raises(a64.Problem, match="--mirror"):
        a64.debian_mirror("sid", tmp_path)


def test_pip_settings_keep_the_index_keys_and_let_the_environment_win(a64, tmp_path):
    listed = (
        ":env:.default-timeout='180'\n"
        ":env:.find-links='/opt/wheels'\n"
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.constraint='/etc/xdg/pip/constraints.txt'\n"
        "global.extra-index-url='file:///opt/pypi/simple file:///opt/more/simple'\n"
        "global.index-url='https://pypi.example/simple'\n"
        "install.index-url='https://install.example/simple'\n"
    )
    got = a64.pip_settings(listed, {"PIP_TRUSTED_HOST": "pypi.example"})
    assert got == {
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple file:///opt/more/simple",
        "PIP_INDEX_URL": "https://install.example/simple",  # install beats global, as in pip
        "PIP_TRUSTED_HOST": "pypi.example",
    }
    assert a64.pip_settings("", {}) == {}


def test_local_index_folders_are_mounted_with_their_files(a64, tmp_path):
    (tmp_path / "pypi" / "simple").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    cert = tmp_path / "ca.crt"
    cert.write_text("x")
    settings = {
        "PIP_EXTRA_INDEX_URL": f"file://{tmp_path}/pypi/simple file://{tmp_path}/gone/simple https://pypi.org/simple",
        "PIP_FIND_LINKS": str(tmp_path / "wheels"),
        "PIP_CERT": str(cert),
    }
    assert a64.local_paths(settings) == [str(tmp_path / "pypi"), str(tmp_path / "wheels"), str(cert)]


def test_binfmt_says_how_to_register_it(a64, tmp_path):
    entry = tmp_path / "qemu-aarch64"
    assert "not registered" in a64.binfmt_problem(entry) and "binfmt_misc/register" in a64.binfmt_problem(entry)
    entry.write_text("disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\n")
    assert "disabled" in a64.binfmt_problem(entry)
    entry.write_text("enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OC\n")
    assert "without the F flag" in a64.binfmt_problem(entry)
    entry.write_text("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\n")
    assert a64.binfmt_problem(entry) is None


def test_the_chroot_runs_in_its_own_mount_namespace_with_an_arm_cpuinfo(a64, tmp_path):
    (tmp_path / "index").mkdir()
    cpuinfo = tmp_path / "cpuinfo"
    chroot = a64.Chroot(tmp_path / "root dir", cpuinfo, (str(tmp_path / "index"),), (("PIP_FIND_LINKS", "/w"),))
    cmd = chroot.command(["python3", "-c", "print(1)"], {"EDGEMNIST_CACHE_DIR": "/c"})
    assert cmd[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert cmd[-3:] == ["python3", "-c", "print(1)"]
    script = cmd[6]
    root = f"'{tmp_path / 'root dir'}'"
    for line in (
        f"mount -t proc proc {root}/proc",
        f"mount --bind {cpuinfo} {root}/proc/cpuinfo",
        f"mount -t sysfs -o ro sysfs {root}/sys",
        f"mount --bind {tmp_path / 'index'} '{tmp_path / 'root dir'}{tmp_path / 'index'}'",
    ):
        assert line in script
    last = script.splitlines()[-1]
    assert last.startswith(f"exec chroot {root} /usr/bin/env -i ") and last.endswith('"$@"')
    for var in ("QEMU_CPU=cortex-a72", "PIP_FIND_LINKS=/w", "EDGEMNIST_CACHE_DIR=/c", "HOME=/root"):
        assert var in last
    assert "Features\t: fp asimd" in a64.CPUINFO and "CPU part\t: 0xd08" in a64.CPUINFO


def test_compare_counts_bytes_labels_and_probability_steps(a64):
    labels = np.array([0, 1, 2, 3])
    ref_raw = np.full((4, 10), -128, np.int8)
    ref_raw[np.arange(4), labels] = 127
    raw = ref_raw.copy()
    raw[1, 5] = -127  # one byte off by one step: same label
    raw[3, 3], raw[3, 4] = -100, 127  # label 3 becomes 4
    scale = 1 / 256

    def proba(r):
        return ((r.astype(np.float64) + 128) * scale).astype(np.float32)

    c = a64.compare(proba(ref_raw), ref_raw, proba(raw), raw, labels)
    assert (c["images"], c["outputs"], c["output_dtype"]) == (4, 40, "int8")
    assert (c["differing_outputs"], c["images_with_a_differing_output"], c["top1_changed"]) == (3, 2, 1)
    assert c["top1_agreement"] == 0.75 and c["accuracy_on_images"] == 0.75 and c["accuracy_on_images_x86_64"] == 1.0
    assert c["max_abs_dp"] == pytest.approx(255 / 256)  # score 4: -128 -> 127
    f = proba(ref_raw)
    g = f.copy()
    g[0, 0] = np.nextafter(g[0, 0], np.float32(0))  # one ulp: a float output differs bit for bit
    c = a64.compare(f, f, g, g, labels)
    assert (c["output_dtype"], c["differing_outputs"], c["top1_changed"]) == ("float32", 1, 0)


def test_the_table_is_rendered_from_the_recorded_results(a64):
    report = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert report["schema"] == a64.SCHEMA
    md = a64.markdown(report)
    assert md == (RESULTS.with_suffix(".md")).read_text(encoding="utf-8")
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and ("(`model" in ln or "(`edgemnist" in ln)]
    assert len(rows) == len(report["runtimes"]) == len(a64.RUNTIMES)
    for r, row in zip(report["runtimes"], rows, strict=True):
        c = r["comparison"]
        assert f"`{r['artifact']}`" in row
        assert f"{c['differing_outputs']:,} of {c['outputs']:,}" in row
        assert f"{c['max_abs_dp']:.4f}" in row and f"{r['accuracy']:.2%}" in row
        assert r["machine_inside"] == "aarch64"
    cross = report["cross"]
    assert f"{cross['differing_bytes']:,} of {cross['bytes']:,} score bytes" in md


def test_the_cross_only_table_needs_no_chroot_run(a64):
    report = {
        "schema": a64.SCHEMA,
        "cross": {
            "images": 3,
            "differing_bytes": 0,
            "bytes": 30,
            "top1_changed": 0,
            "compute_path": "portable",
            "compiler": "aarch64-linux-gnu-gcc 12",
            "flags": "-O2 -static",
            "host_compiler": "cc 12",
            "emulator": "qemu-aarch64 7.2 -cpu cortex-a72",
            "seconds": 0.1,
        },
    }
    md = a64.markdown(report)
    assert "0 of 30 score bytes differ" in md and "|" not in md


def test_the_update_script_pastes_the_results_into_the_device_page(a64):
    spec = importlib.util.spec_from_file_location(
        "bench_script_update_readme_a64", REPO / "benchmarks/update_readme.py"
    )
    update = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update)
    section = update.aarch64_section(RESULTS.parent)
    assert section.startswith(update.AARCH64_START) and section.endswith(update.AARCH64_END)
    assert RESULTS.with_suffix(".md").read_text(encoding="utf-8").strip() in section
    assert section in (REPO / "docs" / "device-installs.md").read_text(encoding="utf-8")
