"""edgemnist evaluate (placeholder until its issue lands)"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from edgemnist.errors import ConfigError

    raise ConfigError("'edgemnist evaluate' is not implemented yet")
