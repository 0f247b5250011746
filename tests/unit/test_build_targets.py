"""The build target table (edgemnist/build/targets.py) is whole: every row's board folder holds its files, every
harness exists and travels as package data, every tool names a Debian package, firmware rows say how they run and
count, and an unknown target or compute path is refused naming the known ones. No compiler runs here."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest
import tomllib

from edgemnist.build import compile, emulate, targets
from edgemnist.errors import ConfigError, MissingDependencyError

PKG = Path(resources.files("edgemnist.build"))
REPO = Path(__file__).resolve().parents[2]
DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
ROWS = {t.name: t for t in targets.TARGETS}


def test_names_are_unique_and_each_row_is_one_of_the_known_kinds():
    assert len(ROWS) == len(targets.TARGETS) and {"host", "cortex-m4", "wasm32"} <= set(ROWS)
    for t in targets.TARGETS:
        assert t.kind in targets.KINDS and t.counting in targets.COUNTINGS, t.name
        assert t.opt.startswith("-O") and t.paths, t.name
        keys = [p.key for p in t.paths]
        assert len(set(keys)) == len(keys), t.name
        assert set(targets.WARNINGS) <= set(t.cflags), f"{t.name}: the kernel is warning-free on every target"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_tool_of_a_row_names_a_debian_package(name):
    for tool in ROWS[name].all_tools():
        assert tool.command and tool.debian_package, tool
        assert all(DEBIAN_NAME.match(p) for p in tool.debian_package.split()), tool.debian_package


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_board_and_harness_file_is_there_and_is_package_data(name):
    t = ROWS[name]
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data["edgemnist.build"]
    files = []
    if t.board:
        folders = [PKG / "boards" / f for f in (t.board_common, t.board) if f]
        assert all(f.is_dir() for f in folders), folders
        names = {p.name for f in folders for p in f.iterdir() if p.is_file()}
        assert {"startup.c", "link.ld", "board.h"} <= names, folders
        assert (PKG / "boards" / t.board / "link.ld").is_file(), "the link script is the board's own"
        files += [p for f in folders for p in f.iterdir() if p.is_file()]
    if t.harness:
        assert (PKG / "harness" / t.harness).is_file(), t.harness
        files.append(PKG / "harness" / t.harness)
    for f in files:
        rel = f.relative_to(PKG).as_posix()
        assert any(fnmatch(rel, g) for g in globs), f"{rel} is not package data (pyproject.toml)"


def test_every_board_folder_belongs_to_a_row():
    used = {f for t in targets.TARGETS for f in (t.board, t.board_common) if f}
    assert {p.name for p in (PKG / "boards").iterdir() if p.is_dir() and p.name != "__pycache__"} == used


@pytest.mark.parametrize("name", [t.name for t in targets.TARGETS if t.kind == "firmware"])
def test_a_firmware_row_says_how_it_runs_counts_and_fits(name):
    t = ROWS[name]
    assert t.board and t.harness and t.emulator and t.size_tool and t.nm_tool
    assert t.emulator.machine and "-icount" in t.emulator.args and "-semihosting-config" in t.emulator.args
    assert t.flash_bytes and t.ram_bytes and t.counting and t.core
    assert bool(t.cpu_hz) == t.counting.endswith("-icount"), "a timer counts the CPU clock; instret counts itself"
    assert emulate.instructions_per_tick(t) > 0
    cmd = t.emulator.command("fw.elf") if t.emulator.binary.find() else None
    if cmd:
        assert cmd[1:3] == ["-M", t.emulator.machine] and cmd[-2:] == ["-kernel", "fw.elf"]


def test_a_wasm_row_names_what_the_module_exports():
    for t in targets.TARGETS:
        assert bool(t.exports) == (t.kind == "wasm"), t.name


def test_unknown_target_and_path_are_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown build target 'cortex-m99'") as err:
        targets.get("cortex-m99")
    assert all(name in str(err.value) for name in ROWS)
    with pytest.raises(ConfigError, match="unknown compute path 'neon' for cortex-m4; expected one of dsp, portable"):
        targets.get("cortex-m4").path("neon")
    assert targets.get("cortex-m4").path().key == "dsp" and targets.get("wasm32").path("portable").key == "scalar"
    with pytest.raises(ConfigError, match="unknown build target"):
        compile.build("nope", tmp_path / "edgemnist_model.c")
    with pytest.raises(ConfigError, match="does not count instructions"):
        emulate.instructions_per_tick(ROWS["host"])


def test_a_missing_tool_names_its_debian_package(monkeypatch):
    tool = targets.Tool("edgemnist-no-such-cc", "gcc-no-such", env_override="EDGEMNIST_TEST_CC")
    assert tool.find() is None
    with pytest.raises(MissingDependencyError, match=r"needs 'edgemnist-no-such-cc'.*apt-get install gcc-no-such"):
        tool.require("building x")
    monkeypatch.setenv("EDGEMNIST_TEST_CC", "sh")  # the override names another program
    assert tool.find() is not None and tool.find().endswith("/sh")


def test_the_cache_folder_is_under_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path))
    assert compile.cache_dir() == tmp_path
    monkeypatch.delenv("EDGEMNIST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile.cache_dir() == tmp_path / "xdg" / "edgemnist"
