"""``edgemnist.cli.main`` as the tests run it in-process: ``run_cli(argv, capsys)`` -> (exit code, stdout,
stderr), argparse's exits included."""

from __future__ import annotations


def run_cli(argv, capsys):
    from edgemnist.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err
