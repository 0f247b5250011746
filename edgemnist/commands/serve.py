"""edgemnist serve DIR : the exported web folder on http://127.0.0.1:PORT/ until Ctrl-C."""

from __future__ import annotations

import argparse

DEFAULT_PORT = 8000


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {port}")
    return port


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="an exported web folder (edgemnist export --format web: export/web)")
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from edgemnist.errors import ConfigError
    from edgemnist.safetext import emit
    from edgemnist.web.serve import serve, stderr_line, tunnel_hint

    folder = Path(args.folder)
    if folder.is_dir() and not (folder / "index.html").is_file():
        raise ConfigError(
            f"{folder}: no index.html; expected an exported web folder "
            "(edgemnist export --format web writes export/web)"
        )
    try:
        server = serve(folder, args.port, log_line=stderr_line)
    except ConfigError as exc:
        if "cannot listen" in str(exc):
            raise ConfigError(f"{exc}; choose another with --port (0 picks a free one)") from None
        raise
    emit(f"serving {folder} at {server.url} (127.0.0.1 only; Ctrl-C stops; one line per request on stderr)")
    emit(tunnel_hint(server.port))
    sys.stdout.flush()
    server.serve_until_interrupted()
    return 0
