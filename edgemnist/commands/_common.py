"""Arguments several commands share."""

from __future__ import annotations

import argparse

from edgemnist import spec


def model_files() -> str:
    """Every model file a command loads, from the format registry: ``.tflite, .onnx, .cc (model_data.cc), ...``."""
    from edgemnist.formats import FORMATS

    return ", ".join(
        f"{f.suffix} ({f.filename.rsplit('/', 1)[-1]})" if f.filename else f.suffix for f in FORMATS.values()
    )


#: Every line a command prints for people fits this many columns (what it prints from files is wrapped).
COLUMNS = 100


CONTINUE = " \\"  # a shell line continuation


def next_steps(steps: list[tuple[str, str]]) -> list[str]:
    """``next:`` and one pasteable command per line, each with ``# why`` beside it when that fits ``COLUMNS``,
    else on the line above; a command too long for a line continues after a shell ``\\``."""
    import re

    lines = ["next:"]
    for command, why in steps:
        inline = f"  {command}  # {why}"
        if len(inline) <= COLUMNS:
            lines.append(inline)
            continue
        lines.append(f"  # {why}")
        parts = [""]
        for word in re.findall(r"(?:'[^']*'|[^ ])+", command):  # between arguments, never inside a quoted one
            if parts[-1] and len(parts[-1]) + 1 + len(word) > COLUMNS - 6:
                parts.append("")
            parts[-1] = f"{parts[-1]} {word}".lstrip()
        last = len(parts) - 1
        lines += [("    " if i else "  ") + part + ("" if i == last else CONTINUE) for i, part in enumerate(parts)]
    return lines


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST IDX files (.gz or raw) or mnist.npz "
        "(default: $EDGEMNIST_DATA_DIR, else the user cache, else download)",
    )


def add_tolerance(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tolerance",
        type=float,
        default=spec.DEFAULT_TOLERANCE_PP,
        metavar="PP",
        help=f"accuracy gate: fail below {spec.REFERENCE_ACCURACY * 100:.2f}%% minus PP percentage points "
        f"(default {spec.DEFAULT_TOLERANCE_PP})",
    )


def add_public_key(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--public-key",
        metavar="PEM",
        help="accept only an artifact signed with this ECDSA public key: <artifact>.sig must verify "
        "over the artifact, its manifest and companions (see `edgemnist sign`)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def writable_dir(path) -> None:
    """Fail before any work when ``path`` cannot become a folder we write into (ConfigError, exit 2)."""
    import os
    from pathlib import Path

    from edgemnist.errors import ConfigError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the output folder ({exc.strerror or exc})") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: not a writable folder; expected a folder for the output files")


def with_flags(exc: Exception) -> Exception:
    """The library's error with the CLI flag that changes the outcome named (library messages never name flags)."""
    from edgemnist.errors import DataError, InputError, UnverifiedError

    if isinstance(exc, UnverifiedError):
        return type(exc)(f"{exc}; pass --allow-unverified to use it anyway")
    if isinstance(exc, InputError) and ("(invert=True)" in str(exc) or "(invert=False)" in str(exc)):
        text = str(exc).replace("(invert=True)", "(--invert)").replace("(invert=False)", "(--no-invert)")
        return type(exc)(text.replace("(invert=None, the default)", "(neither --invert nor --no-invert)"))
    if isinstance(exc, DataError):
        from edgemnist.data import offline_hint

        text = str(exc)
        if offline_hint() in text:
            return type(exc)(text.replace(offline_hint(), offline_hint(cli=True)))
    return exc


def new_dir_or_nothing(path):
    """A context for a command that fills the folder ``path``: checked (writable_dir) and created up front, and
    removed again if the command fails while it is still empty and did not exist before (a failed ``train``
    leaves no empty ``--out`` folder behind)."""
    import contextlib
    from pathlib import Path

    @contextlib.contextmanager
    def scope():
        target = Path(path)
        missing = [p for p in (target, *target.parents) if not p.exists()]
        writable_dir(target)
        try:
            yield target
        except BaseException:
            for p in missing:  # deepest first; only folders this command made and left empty
                try:
                    p.rmdir()
                except OSError:
                    break
            raise

    return scope()
