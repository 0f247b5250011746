"""tests/toolchains.py is the one way a test needs a tool: it skips naming the Debian package, fails under
EDGEMNIST_REQUIRE_TOOLCHAINS=1, refuses names it does not know, and no test file uses another skip mechanism."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import toolchains

TESTS = Path(__file__).resolve().parents[1]
#: The other ways pytest or a test can skip for a missing tool (spelled in pieces so this file does not match).
OTHER_MECHANISMS = re.compile(
    "|".join(
        [
            "importor" + "skip",
            r"mark\.skip" + "if",
            r"mark\.sk" + r"ip\b",
            r"pytest\.sk" + r"ip\(",
            r"shutil\.wh" + "ich",
        ]
    )
)


def test_no_test_file_uses_another_skip_mechanism():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == "toolchains.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OTHER_MECHANISMS.search(line):
                offenders.append(f"{path.relative_to(TESTS)}:{n}: {line.strip()}")
    assert not offenders, "use tests/toolchains.py (requires / imported):\n" + "\n".join(offenders)


def test_a_missing_tool_skips_naming_the_debian_package(monkeypatch):
    monkeypatch.delenv(toolchains.REQUIRE_ENV, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(
        pytest.skip.Exception, match=r"needs qemu-system-arm \(Debian: apt-get install qemu-system-arm\)"
    ):
        toolchains.requires("qemu-system-arm")
    with pytest.raises(pytest.skip.Exception, match="arm-none-eabi-gcc .*gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        toolchains.requires("cortex-m4")  # a build target: every tool of its row
    assert toolchains.missing("/proc/self/status") == []


def test_under_require_toolchains_a_missing_tool_fails(monkeypatch):
    monkeypatch.setenv(toolchains.REQUIRE_ENV, "1")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="EDGEMNIST_REQUIRE_TOOLCHAINS=1 but this test needs clang"):
        toolchains.check("clang")


def test_a_missing_python_package_names_its_extra(monkeypatch):
    monkeypatch.delenv(toolchains.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(toolchains.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match=r"the Python package wasmtime \(pip install 'edgemnist\[web\]'\)"):
        toolchains.check("wasmtime")


def test_an_unknown_name_is_an_error_in_the_test():
    with pytest.raises(ValueError, match="does not know 'gcc-13'"):
        toolchains.requires("gcc-13")


@toolchains.requires("/proc/self/status")
def test_the_marker_form_runs_the_test_when_everything_is_there():
    assert toolchains.requires("/proc/self/status").name == "requires"


def test_an_opt_in_skips_until_switched_on_even_under_require_toolchains(monkeypatch):
    monkeypatch.setenv(toolchains.REQUIRE_ENV, "1")  # CI: a missing tool fails, an opt-in left off still skips
    monkeypatch.delenv("EDGEMNIST_AARCH64", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"opt-in, not switched on \(EDGEMNIST_AARCH64=1: root, network"):
        toolchains.check("EDGEMNIST_AARCH64", "mmdebstrap")
    monkeypatch.setenv("EDGEMNIST_AARCH64", "1")
    toolchains.check("EDGEMNIST_AARCH64")  # switched on, nothing else named: runs
    monkeypatch.setenv("PATH", "/nonexistent")  # switched on, the tools it names are required as any others
    with pytest.raises(pytest.fail.Exception, match="needs mmdebstrap"):
        toolchains.check("EDGEMNIST_AARCH64", "mmdebstrap")
