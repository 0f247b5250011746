"""The one way a test needs something this machine may lack: a system tool, a build target's tools, a file a Debian
package installs, or an optional Python package; and the one way to mark a test opt-in (``OPT_IN``).

    from toolchains import requires, imported

    @requires("clang", "wasm-ld")          # a marker: checked when the test is set up
    def test_x(): ...

    pytestmark = requires("cortex-m4")     # every tool of the build target's row

    @pytest.fixture
    def site(...):
        requires("chromium", "playwright")  # inside a fixture or a test: checked now

    Image = imported("PIL.Image")          # a module-level optional import: the module, or the file skips

    @requires("EDGEMNIST_AARCH64", "mmdebstrap")  # runs only when EDGEMNIST_AARCH64=1, then needs mmdebstrap

A missing requirement skips visibly, naming the Debian package (or the pip extra) to install; under
``EDGEMNIST_REQUIRE_TOOLCHAINS=1`` (set by .ci/run) it FAILS instead: a test that skipped in CI has not been done.
No test uses any other skip mechanism (tests/unit/test_test_mechanisms.py checks it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import pytest

from edgemnist.build import targets

REQUIRE_ENV = "EDGEMNIST_REQUIRE_TOOLCHAINS"

#: Tools that are not in a build target's row: name -> Debian package.
OTHER_TOOLS = {
    "chromium": "chromium",
    "npm": "npm",
    "g++": "g++",
    "nm": "binutils",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "qemu-aarch64-static": "qemu-user-static",
    "mmdebstrap": "mmdebstrap",
    "unshare": "util-linux",
    "chroot": "coreutils",
}
#: Opt-in runs: environment variable -> what such a run takes that CI does not give it. A test that requires one
#: runs only when it is set to 1 and otherwise skips, under EDGEMNIST_REQUIRE_TOOLCHAINS=1 too (CI does not opt in).
OPT_IN = {
    "EDGEMNIST_AARCH64": "root, network access to the Debian mirror and the package index, 10+ minutes",
}
#: The lock of the browser peers' pinned npm packages in their default cache (benchmarks/_peers.py).
PEERS_LOCK = str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgemnist" / "npm-peers" / "package-lock.json"
)
#: Files a test reads: path -> what provides it.
FILES = {
    "/usr/share/datasets/fashion-mnist": "Debian: apt-get install dataset-fashion-mnist",  # IDX, and not MNIST
    "/proc/self/status": "Linux",
    PEERS_LOCK: "python benchmarks/browser.py --peers --install-only, which .ci/run runs",
}
#: Optional Python packages: import name -> how to install it.
PYTHON = {
    "wasmtime": "pip install 'edgemnist[web]'",
    "playwright": "pip install playwright",
    "tflite_micro": "pip install 'edgemnist[micro]'",
    "ai_edge_litert": "pip install 'edgemnist[litert]'",
    "tensorflow": "pip install 'edgemnist[train]'",
    "onnx": "pip install 'edgemnist[train]'",
    "PIL": "pip install 'edgemnist[images]'",
    "pooch": "pip install 'edgemnist[data]'",
    "cryptography": "pip install 'edgemnist[verify]'",
    "model_signing": "pip install 'edgemnist[sign]'",
}


def _tools() -> dict[str, targets.Tool]:
    """Every tool the build targets name (their rows are the one record of the Debian packages), and the rest."""
    tools: dict[str, targets.Tool] = {}
    for target in targets.TARGETS:
        for tool in target.all_tools():
            tools.setdefault(tool.command, tool)
    for name, package in OTHER_TOOLS.items():
        tools.setdefault(name, targets.Tool(name, package))
    return tools


def _found_tool(tool: targets.Tool) -> bool:
    if tool.command == "chromium":  # the browser launcher's own lookup ($EDGEMNIST_CHROMIUM, then PATH names)
        from edgemnist.web.browser import chromium_path

        return chromium_path() is not None
    return tool.find() is not None


def missing(*names: str) -> list[str]:
    """What of ``names`` is not here, each said with how to install it ("clang (Debian: apt-get install clang)").
    A name is a tool, a build target (all of its row's tools), a file path or an optional Python package."""
    tools, out = _tools(), []
    for name in names:
        if name in tools:
            if not _found_tool(tools[name]):
                out.append(f"{name} (Debian: apt-get install {tools[name].debian_package})")
        elif name in targets.names():
            out += missing(*(t.command for t in targets.get(name).all_tools()))
        elif name in FILES:
            if not Path(name).exists():
                out.append(f"{name} ({FILES[name]})")
        elif name in OPT_IN:
            pass  # not a missing thing: check() skips when it is not switched on
        elif name.split(".")[0] in PYTHON:
            if importlib.util.find_spec(name.split(".")[0]) is None:
                out.append(f"the Python package {name.split('.')[0]} ({PYTHON[name.split('.')[0]]})")
        else:
            raise ValueError(f"tests/toolchains.py does not know {name!r}; add it to a table there")
    return list(dict.fromkeys(out))


def check(*names: str, module_level: bool = False) -> None:
    """Skip now (fail under EDGEMNIST_REQUIRE_TOOLCHAINS=1) unless everything of ``names`` is here; skip, always,
    while an opt-in of ``names`` is not switched on."""
    off = [n for n in names if n in OPT_IN and os.environ.get(n) != "1"]
    if off:
        reasons = "; ".join(f"{n}=1: {OPT_IN[n]}" for n in off)
        pytest.skip(f"opt-in, not switched on ({reasons})", allow_module_level=module_level)
    absent = missing(*names)
    if not absent:
        return
    message = f"needs {', '.join(absent)}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but this test {message}", pytrace=False)
    pytest.skip(message, allow_module_level=module_level)


def requires(*names: str) -> pytest.MarkDecorator:
    """A marker (``@requires(...)``, ``pytestmark = requires(...)``) checked when each test is set up; called
    while a test or a fixture runs, it checks at once. See the module doc."""
    missing(*names)  # an unknown name is an error in the test, wherever it is used
    if os.environ.get("PYTEST_CURRENT_TEST"):  # set by pytest while a test (and its fixtures) run
        check(*names)
    return pytest.mark.requires(*names)


def imported(name: str):
    """The module ``name`` for a module-level optional import; the whole file skips (fails in CI) without it."""
    check(name, module_level=True)
    return importlib.import_module(name)
