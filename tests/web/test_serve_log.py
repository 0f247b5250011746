"""``edgemnist serve`` as a user runs it, against real sockets on 127.0.0.1: one log line per request, and
clients that go away mid-request (half a request line, a reset before the answer, a reader that leaves during a
large file) are one line at most, never a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(\S+) (\S+) (\d{3}|-) (\d+) B( \(client went away\))?$")


@pytest.fixture
def site(tmp_path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>x</title>")
    (folder / "big.wasm").write_bytes(os.urandom(8 << 20))  # larger than any socket buffer: the write blocks
    return folder


def _start(site: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgemnist", "serve", str(site), "--port", "0"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
    assert m, first + proc.stderr.read()
    second = proc.stdout.readline()
    return proc, int(m.group(1)), first, second


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed or impatient client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _request(port: int, text: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(text)
    return sock


def test_every_request_is_one_line_and_disconnects_never_a_traceback(site):
    proc, port, first, second = _start(site)
    try:
        assert first.startswith(f"serving {site} at http://127.0.0.1:{port}/ (127.0.0.1 only")
        assert re.fullmatch(
            rf"from another machine: ssh -N -L {port}:127\.0\.0\.1:{port} \S+@\S+, then open "
            rf"http://127\.0\.0\.1:{port}/ there\n",
            second,
        ), second
        host = f"Host: 127.0.0.1:{port}\r\n".encode()
        good = _request(port, b"GET /index.html HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := good.recv(65536):
            answer += chunk
        good.close()
        assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200")
        _request(port, b"GET /index.html HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n\x1b[2J").close()
        _request(port, b"GET /\x1b[31mred HTTP/1.1\r\n" + host + b"\r\n").close()  # a control sequence in the path
        for _ in range(20):
            _reset(_request(port, b"GET /inde"))  # half a request line, then a reset
            _request(port, b"GET /index.html HTTP/1.1\r\nHo").close()  # half the headers, then a close
            _reset(socket.create_connection(("127.0.0.1", port)))  # connect and reset, nothing sent
        readers = []
        for _ in range(20):  # ask for 8 MB, read a little, leave: the server's write fails mid-body
            sock = _request(port, b"GET /big.wasm HTTP/1.1\r\n" + host + b"\r\n")
            sock.recv(1000)
            readers.append(sock)
        for sock in readers:
            _reset(sock)
        time.sleep(1.0)  # let the server's threads notice
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Error" not in err, err
    lines = err.splitlines()
    assert all(LINE.match(line) for line in lines), [ln for ln in lines if not LINE.match(ln)]
    assert lines[0] == f"GET /index.html 200 {len((site / 'index.html').read_bytes())} B"
    assert "\x1b" not in err and r"GET /\x1b[31mred 404" in err  # shown, never sent to the terminal
    big = [ln for ln in lines if " /big.wasm " in ln]
    assert len(big) == 20 and all(ln.endswith("(client went away)") for ln in big), big
    assert len(lines) <= 2 + 1 + 20 * 2 + 20  # at most one line per connection that sent something


def test_concurrent_fetches_each_log_one_line(site):
    proc, port, _, _ = _start(site)
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    statuses = []

    def fetch():
        sock = _request(port, b"GET /index.html HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        statuses.append(data.split(b" ", 2)[1])

    try:
        threads = [threading.Thread(target=fetch) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert statuses == [b"200"] * 50
    assert err.splitlines() == [f"GET /index.html 200 {len((site / 'index.html').read_bytes())} B"] * 50
