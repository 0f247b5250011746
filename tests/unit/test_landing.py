"""Staging an export's companions: the artifact's own header is staged where a reader looks for ``<stem>.h`` beside
the staged artifact, also when other companions share its suffix (the C kernel's preprocessing pair)."""

from __future__ import annotations

from pathlib import Path

from edgemnist.export.landing import Staging


def test_the_artifacts_own_header_is_staged_beside_it_among_other_headers(tmp_path):
    names = ("edgemnist_model.h", "edgemnist_preprocess.c", "edgemnist_preprocess.h")
    with Staging.open(tmp_path / "edgemnist_model.c", names) as staged:
        files = staged.files
        own = files.companion("edgemnist_model.h")
        assert own == files.path.with_suffix(".h") and own.is_file()  # the staged <stem>.h: host.header_path finds it
        others = [files.companion(n) for n in names[1:]]
        assert len({files.path, own, *others}) == 4
        assert all(p.name.startswith(".") and p.parent == tmp_path for p in [files.path, own, *others])
    assert not list(tmp_path.iterdir())  # a failed or abandoned export leaves no temporary behind


def test_a_companion_with_a_unique_suffix_is_still_staged_under_the_artifacts_stem(tmp_path):
    with Staging.open(tmp_path / "model_data.cc", ("model_data.h",)) as staged:
        assert staged.files.companion("model_data.h") == staged.files.path.with_suffix(".h")
    with Staging.open(tmp_path / "web" / "edgemnist_model.wasm", ("index.html", "edgemnist_model.scalar.wasm")) as s:
        assert s.files.companion("index.html") == s.files.path.with_suffix(".html")
        assert Path(s.files.companion("edgemnist_model.scalar.wasm")).suffix != ".html"
