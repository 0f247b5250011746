"""Help text, usage errors and export/README.md follow the format registry: a format added to
``edgemnist.formats`` that one of them does not name fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemnist.cli import COMMANDS, main
from edgemnist.formats import EXPORT_FORMATS, FORMATS

REPO = Path(__file__).resolve().parents[2]


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps: compare with single spaces


def test_top_level_help_names_every_export_format(capsys):
    text = _help(capsys)
    line = next(ln for ln in text.split(" export ")[1:] if "verify each artifact" in ln)
    for name in EXPORT_FORMATS:
        assert f" {name}," in f" {line}" or f" {name} " in f" {line}", (name, line)


@pytest.mark.parametrize("command", ["predict", "evaluate", "info", "bench"])
def test_model_arguments_name_every_loadable_suffix(command, capsys):
    text = _help(capsys, command)
    for f in FORMATS.values():
        assert f.suffix + (f" ({f.filename.rsplit('/', 1)[-1]})" if f.filename else "") in text, (command, f.name)


def test_export_help_names_every_format_and_mode(capsys):
    text = _help(capsys, "export")
    for name in EXPORT_FORMATS:
        assert f"{name}: {', '.join(FORMATS[name].mode_names)}" in text


def test_export_readme_lists_every_output():
    readme = (REPO / "export" / "README.md").read_text(encoding="utf-8")
    for name in EXPORT_FORMATS:
        f = FORMATS[name]
        assert f"`export --format {name}`" in readme, name
        for mode in f.modes:
            for io in mode.io:
                assert f"`{f.artifact_name(mode.name, io).rsplit('/', 1)[-1]}`" in readme, (name, mode.name, io)
        target = Path("export") / f.artifact_name(f.default_mode)
        for companion in f.load_exporter().companions(target):
            assert f"`{companion}`" in readme, (name, companion)


@pytest.mark.parametrize(
    "argv,help_of",
    [
        (["train", "--bogus"], "edgemnist train"),
        (["export", "--nope", "1"], "edgemnist export"),
        (["data", "import", "x", "--extra"], "edgemnist data import"),
        (["data"], "edgemnist data"),
        (["bogus"], "edgemnist"),
    ],
)
def test_a_usage_error_points_at_the_help_of_its_subcommand(argv, help_of, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and err.endswith(f"(see {help_of} --help)\n")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_unknown_mode_lists_the_modes_of_the_chosen_format(fmt, capsys, tmp_path):
    assert main(["export", "--format", fmt, "--quantize", "int4", "--model", str(tmp_path / "m.keras")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --quantize 'int4' is not a {fmt} mode; expected one of: {', '.join(FORMATS[fmt].mode_names)}\n"
    )
    assert main(["export", "--format", "all", "--quantize", "int4", "--model", str(tmp_path / "m.keras")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(f"{n}: {', '.join(FORMATS[n].mode_names)}" in err for n in EXPORT_FORMATS)


def test_every_command_is_in_the_top_level_help(capsys):
    text = _help(capsys)
    assert all(f" {name} " in text for name in COMMANDS)
