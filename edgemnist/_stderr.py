"""The CLI's filter for what native runtimes print straight to file descriptor 2.

LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` the first time it builds an
interpreter, and the TFLite converter prints ``fully_quantize: 0, inference_type: 6, ...``; neither has an
off switch reachable from Python (LiteRT's ``LoggerOptions`` is C++ only), and they would break the CLI's
promise that an error is exactly one ``error: ...`` line on stderr. ``filtered_stderr()`` points fd 2 at a
pipe for the length of a command and forwards every line except those known, harmless ones to the real
stderr. Python's own ``sys.stderr`` keeps writing to the real stream directly (so progress bars still see a
terminal). Only ``edgemnist.cli`` uses this.

Library users get the same for the one place the line comes from: ``without_native_noise()`` wraps the
construction of LiteRT's first interpreter in a process (``edgemnist.predictor.litert``), so
``Predictor.load`` prints nothing on a user's stderr; that is the library's only touch of fd 2.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from _thread import allocate_lock  # threading.Lock itself: the library path never imports threading
from collections.abc import Iterator

#: Lines native code prints that carry no information for a CLI user (regular expressions, compiled on first
#: use through re's cache: a device start-up that sees only the first never compiles the second).
NOISE = (
    rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.\r?$",
    rb"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+\r?$",
)


def _is_noise(line: bytes) -> bool:
    line = line.rstrip(b"\n")
    return any(re.match(p, line) for p in NOISE)


def _pump(read_fd: int, write_fd: int) -> None:
    """Copy lines from ``read_fd`` to ``write_fd`` until EOF, dropping NOISE lines."""
    pending = b""

    def emit(line: bytes) -> None:
        if not _is_noise(line):
            with contextlib.suppress(OSError):
                os.write(write_fd, line)

    with contextlib.suppress(OSError):
        while chunk := os.read(read_fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line + b"\n")
    if pending:
        emit(pending)
    os.close(read_fd)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Within the block, drop NOISE lines that anything in the process writes to fd 2."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, AttributeError, ValueError):  # no usable fd 2 (embedded, closed): nothing to filter
        yield
        return
    os.set_inheritable(real, False)
    import threading  # only the CLI's filter runs a thread

    pump = threading.Thread(target=_pump, args=(read_fd, real), name="edgemnist-stderr", daemon=True)
    pump.start()
    os.dup2(write_fd, 2)  # native writes to fd 2 now go through the pump
    os.close(write_fd)
    swapped = None
    if sys.stderr is sys.__stderr__ and sys.stderr is not None:
        # Python-level writes go straight to the real stream: in order with our own output, and isatty()
        # still answers for the terminal.
        swapped = sys.stderr
        sys.stderr = io.TextIOWrapper(
            io.FileIO(os.dup(real), "w"), encoding=swapped.encoding, errors=swapped.errors, line_buffering=True
        )
    try:
        yield
    finally:
        if swapped is not None:
            with contextlib.suppress(Exception):
                sys.stderr.close()
            sys.stderr = swapped
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end (children that inherited it aside): EOF
        pump.join(timeout=2.0)
        if not pump.is_alive():  # else a child still holds the pipe: the pump keeps forwarding to ``real``
            os.close(real)


_NATIVE_LOCK = allocate_lock()


@contextlib.contextmanager
def without_native_noise() -> Iterator[None]:
    """For the library, around the one native call known to print NOISE (LiteRT's first interpreter): fd 2
    points at a pipe for the length of the block, then every line written to it except NOISE goes on to the
    real fd 2, in order. Nothing is lost but NOISE, unless a single call writes more than a pipe holds (64 kB
    on Linux; the rest is dropped, as the native writer ignores EAGAIN). Python's ``sys.stderr`` is flushed
    first and left alone; threads writing to fd 2 meanwhile are delayed, not lost. The CLI's
    ``filtered_stderr`` does this for a whole command."""
    with _NATIVE_LOCK:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            real = os.dup(2)
        except (OSError, AttributeError, ValueError):  # no usable fd 2: nothing to protect
            yield
            return
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            os.close(real)
            yield
            return
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        try:
            yield
        finally:
            os.dup2(real, 2)  # the pipe's last write end is gone: what is in it is all there is
            chunks = []
            with contextlib.suppress(OSError):  # BlockingIOError: drained
                while chunk := os.read(read_fd, 65536):
                    chunks.append(chunk)
            os.close(read_fd)
            for line in b"".join(chunks).splitlines(keepends=True):
                if not _is_noise(line):
                    with contextlib.suppress(OSError):
                        os.write(real, line)
            os.close(real)
