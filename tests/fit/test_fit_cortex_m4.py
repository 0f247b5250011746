"""A tiny real ``edgemnist fit`` on the Cortex-M4 under QEMU: two small candidates, one epoch each, 100 images.
Checks the chosen export, its manifest and the reports; a budget below both candidates exits 1 naming the
smallest one that would fit; the second run is served from the cache."""

from __future__ import annotations

import json

import pytest
from toolchains import requires

from edgemnist.cli import main

pytestmark = [pytest.mark.slow, requires("cortex-m4", "cc")]


def test_tiny_fit_on_cortex_m4(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "fit"
    common = [
        "fit",
        "--target",
        "cortex-m4",
        "--grid",
        "16 24",
        "--bits",
        "8,4",
        "--epochs",
        "1",
        "--images",
        "100",
        "--jobs",
        "2",
        "--tolerance",
        "10",
    ]
    rc = main(
        [
            *common,
            "--flash",
            "64K",
            "--ram",
            "8K",
            "--out",
            str(out),
            "--json",
            str(tmp_path / "fit.json"),
            "--markdown",
            str(tmp_path / "fit.md"),
        ]
    )
    assert rc == 0, capsys.readouterr()
    record = json.loads((out / "fit.json").read_text())
    assert record["budget"] == {"target": "cortex-m4", "flash_bytes": 65536, "ram_bytes": 8192}
    by_label = {r["label"]: r for r in record["results"]}
    assert set(by_label) == {"16 w8", "16 w4", "24 w8", "24 w4"}
    for label in ("16 w8", "24 w8"):
        r = by_label[label]
        assert r["status"] == "ok" and r["differing_bytes"] == 0 and r["images"] == 100
        assert 10_000 < r["text_bytes"] < 65536 and 0 < r["ram_bytes"] < 8192 and r["instructions"] > 0
        assert 0.8 < r["accuracy"] < 1.0
    assert by_label["16 w4"]["status"] in ("ok", "not supported")
    chosen = record["chosen"]
    ok = [r for r in record["results"] if r["status"] == "ok" and r["passes"]]
    assert chosen["accuracy"] == max(r["accuracy"] for r in ok)
    for name in ("edgemnist_model.c", "edgemnist_model.h", "model.int8.tflite", "pareto.png"):
        assert (out / name).is_file(), name
    c_manifest = json.loads((out / "edgemnist_model.c.json").read_text())
    assert c_manifest["verification"]["passed"] is True
    assert "| 16 w8 |" in (tmp_path / "fit.md").read_text()
    assert json.loads((tmp_path / "fit.json").read_text())["chosen"] == chosen
    capsys.readouterr()

    smallest = min(r["text_bytes"] for r in ok)
    assert main([*common, "--flash", "8K", "--out", str(tmp_path / "none")]) == 1  # measured results from the cache
    err = capsys.readouterr().err
    assert err.startswith("error: no candidate fits 8,192 B flash") and f"--flash {smallest}" in err
    assert not (tmp_path / "none").exists()
