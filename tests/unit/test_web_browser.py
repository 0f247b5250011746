"""The one Chromium lookup: ``$EDGEMNIST_CHROMIUM`` overrides, else the PATH names in order; a wrong override is
reported as such (no browser is started here)."""

from __future__ import annotations

import pytest

from edgemnist.errors import MissingDependencyError
from edgemnist.web import browser


def _executable(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_the_override_wins_and_a_wrong_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    _executable(tmp_path / "chromium")
    mine = _executable(tmp_path / "my-chrome")
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(mine))
    assert browser.chromium_path() == str(mine)
    plain = tmp_path / "not-executable"
    plain.write_text("")
    for wrong in (plain, tmp_path / "missing", tmp_path):
        monkeypatch.setenv(browser.CHROMIUM_ENV, str(wrong))
        assert browser.chromium_path() is None
        assert browser.available() == f"{browser.CHROMIUM_ENV}={wrong} is not an executable file"
        with pytest.raises(MissingDependencyError, match="is not an executable file"):
            browser.launch(object())


def test_path_names_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv(browser.CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browser.chromium_path() is None
    assert "Debian: apt-get install chromium" in browser.available()
    late = _executable(tmp_path / browser.CHROMIUM_NAMES[-1])
    assert browser.chromium_path() == str(late)
    first = _executable(tmp_path / browser.CHROMIUM_NAMES[0])
    assert browser.chromium_path() == str(first)
