"""The CLI frame: entry points, exit codes, one-line errors, no TensorFlow on --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgemnist.cli import COMMANDS, main


def run(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, **kw)


def test_help_lists_every_command_and_imports_no_heavy_library():
    code = (
        "import sys; from edgemnist.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'onnxruntime', 'ai_edge_litert', 'matplotlib', 'rich') "
        "if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    for name in COMMANDS:
        assert name in proc.stdout


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_subcommand_help_renders(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: edgemnist {command}")


def test_python_dash_m_and_version():
    proc = run("-m", "edgemnist", "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("edgemnist ")


@pytest.mark.parametrize(
    "argv", [[], ["nope"], ["train", "--epochs", "0"], ["train", "--seed", "x"], ["train", "--bogus"]]
)
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        rc = main(argv)
        raise SystemExit(rc)
    assert info.value.code == 2


def test_user_error_is_one_line_without_traceback(tmp_path):
    proc = run("-m", "edgemnist", "train", "--data-dir", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--out", "{file}"],
        ["export", "--model", "{model}", "--out", "{file}"],
        ["bench", "{model}", "--json", "{file}/r.json"],
    ],
)
def test_unwritable_output_is_exit_2_before_any_work(argv, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    model = tmp_path / "model.keras"
    model.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: exists, never reached
    argv = [a.format(file=blocker, model=model) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "a-file" in err
