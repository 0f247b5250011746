"""The ``edgemnist`` command: a thin shell over the library.

Each subcommand lives in ``edgemnist/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; heavy libraries are imported inside ``run`` only, so ``edgemnist --help``
stays fast and never imports TensorFlow.

Exit codes: 0 ok; 1 an accuracy or verification gate failed; 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

from edgemnist import __version__
from edgemnist._stderr import filtered_stderr
from edgemnist.formats import EXPORT_FORMATS


def _or(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


COMMANDS = {
    "train": "train the essay's network on MNIST and save export/model.keras",
    "export": f"export the trained model as {_or(EXPORT_FORMATS)} and verify each artifact",
    "evaluate": "accuracy of artifacts on the 10,000 test images, with a pass/fail gate",
    "predict": "classify image files with an artifact",
    "info": "show an artifact's manifest and what its runtime reports",
    "bench": "benchmark artifacts: size, accuracy, load, latency percentiles, throughput",
    "serve": "serve the web page on 127.0.0.1",
    "sign": "sign artifacts with their manifests (OpenSSF model signing, an ECDSA key)",
    "fit": "pick the most accurate model a target's flash and RAM can hold (train, export, build, measure)",
    "data": "put MNIST into the user cache from a folder you have (edgemnist data import DIR)",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, pointing at the help of the (sub)command that failed
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgemnist", description="Train, export, verify and benchmark the MNIST MLP for edge devices."
    )
    parser.add_argument("--version", action="version", version=f"edgemnist {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"edgemnist.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)  # a subcommand's own subparsers set their own _parser
    return parser


def main(argv: list[str] | None = None) -> int:
    from edgemnist.errors import EdgemnistError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # an unknown flag is the subcommand's usage error: point at its help, not the top level's
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s: %(message)s")
    # Native runtimes print a few known, harmless lines on fd 2; drop them so an error stays one line
    # (--debug shows everything).
    quiet = contextlib.nullcontext() if args.debug else filtered_stderr()
    with quiet:
        try:
            return int(args._run(args) or 0)
        except EdgemnistError as exc:
            if args.debug:
                raise
            from edgemnist.commands._common import with_flags

            print(f"error: {_one_line(with_flags(exc))}", file=sys.stderr)
            return exc.exit_code
        except BrokenPipeError:
            raise  # stdout's reader went away: not an error to report (run() exits quietly)
        except OSError as exc:  # a folder or file we cannot write (or read): the user's to fix, exit 2
            if args.debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130


def _one_line(exc: BaseException) -> str:
    """The message on one line, safe to print: a runtime's multi-line text must not break the one-line
    promise, and nothing a file put in a message may reach the terminal as a control character."""
    from edgemnist.safetext import safe

    return safe(" ".join(str(exc).strip().splitlines()), 2000) or type(exc).__name__


#: The status of a process killed by SIGPIPE, as a shell reports it (``ls | head -1``: ls exits 141).
CLOSED_PIPE_STATUS = 128 + 13


def run() -> None:
    """Console-script entry point (``python -m edgemnist`` too).

    When the reader of stdout goes away (``edgemnist info M | head -1``), the command stops without a
    message and with the status ``ls`` and ``git`` get from SIGPIPE (141), instead of printing
    ``error: Broken pipe``; stdout is pointed at /dev/null so the interpreter's final flush stays quiet too.
    """
    try:
        try:
            status = main()
        except SystemExit as exc:  # argparse's --help, --version and usage errors: flush them here too
            status = exc.code
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        status = CLOSED_PIPE_STATUS
    sys.exit(status)
