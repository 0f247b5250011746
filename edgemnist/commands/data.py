"""edgemnist data import DIR : verify the four MNIST files in a folder and copy them into the user cache."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="data_action", metavar="ACTION", parser_class=type(p), required=True)
    imp = actions.add_parser(
        "import",
        help="verify the MNIST files in DIR by SHA-256 and copy them into the user cache",
        description="Verify the four MNIST files in DIR (train/t10k images and labels, .gz or raw IDX) or Keras' "
        "mnist.npz by SHA-256 and copy them into the user cache, which every later command reads: "
        "no --data-dir or EDGEMNIST_DATA_DIR needed in a new shell. Nothing is written unless every "
        "file verifies.",
    )
    imp.add_argument("folder", metavar="DIR", help="a folder with the MNIST files")
    imp.set_defaults(_parser=imp)


def run(args: argparse.Namespace) -> int:
    import os

    from edgemnist.data import ENV_DATA_DIR, import_dir
    from edgemnist.safetext import emit

    result = import_dir(args.folder)
    emit(f"imported {', '.join(p.name for p in result.files)} (SHA-256 verified) into {result.folder}")
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        emit(f"note: {ENV_DATA_DIR} is set ({env}) and is read before the cache: unset it to use the import")
    else:
        emit("later commands read MNIST from there: no --data-dir or EDGEMNIST_DATA_DIR needed")
    return 0
