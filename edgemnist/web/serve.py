"""A small local HTTP server for an exported web folder (``edgemnist serve DIR``).

Bound to 127.0.0.1 only. Serves the regular files inside the folder and nothing else: no directory listings
(a folder URL serves its ``index.html`` or 404), no path outside the folder (``..``, encoded slashes,
symlinks pointing out), GET and HEAD only, and only for a Host header naming this server (so a web page
elsewhere cannot reach it through DNS rebinding). Every answer carries the cross-origin isolation headers
(``Cross-Origin-Opener-Policy: same-origin``, ``Cross-Origin-Embedder-Policy: require-corp``), under which
Chromium gives ``performance.now()`` a 5 us resolution instead of 100 us, and ``.wasm`` is sent as
``application/wasm`` (what ``WebAssembly.instantiateStreaming`` requires; ``file://`` cannot fetch wasm at all).
Each request is one log line (``RequestLog``); a client that goes away mid-request is at most one line, never a
traceback.

    from edgemnist.web.serve import serve
    with serve("export/web") as server:   # port 0: the system picks a free port
        print(server.url)
        server.wait()                      # until Ctrl-C (or server.close() from another thread)
"""

from __future__ import annotations

import logging
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from edgemnist.errors import ConfigError

HOST = "127.0.0.1"

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

#: On every answer (kept to what matters: header bytes count in the page weight).
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

log = logging.getLogger(__name__)


#: What a client that went away mid-request raises on its socket (a reset, a closed pipe, a timeout).
CLIENT_GONE = (ConnectionError, TimeoutError)


class _Handler(BaseHTTPRequestHandler):
    server_version = "edgemnist"
    sys_version = ""
    root: Path  # set on the subclass made by serve()

    # One line per request, written by handle_one_request (``RequestLog``); http.server's own lines are off.
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def handle_one_request(self):
        self.raw_requestline, self.command, self.path = b"", None, None
        self._status, self._sent, gone = None, 0, False
        try:
            super().handle_one_request()
        except CLIENT_GONE:  # the client went away mid-request: one log line at most, never a traceback
            self.close_connection = True
            gone = True
        if self._status is not None or (gone and self.raw_requestline):
            self.server.request_log(
                self.command,
                self.path or self.raw_requestline.decode("latin-1").strip(),
                self._status,
                self._sent,
                gone,
            )

    def send_response(self, code, message=None):
        self._status = int(code)
        super().send_response(code, message)

    def send_error(self, code, message=None, explain=None):  # http.server's own errors (400, 414, 501...)
        status = HTTPStatus(code)
        self._error(status, message or status.phrase.lower())

    def _resolve(self) -> Path | None:
        path = urlsplit(self.path).path
        if not path.startswith("/"):
            return None
        parts = unquote(path, errors="strict").split("/")
        if any(p in ("..", ".") or "\\" in p or "\0" in p for p in parts):
            return None
        target = self.root.joinpath(*[p for p in parts if p])
        try:
            target = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if target != self.root and self.root not in target.parents:
            return None  # a symlink pointing out of the folder
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in (f"{HOST}:{port}", f"localhost:{port}")

    def _send(self, head_only: bool) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "unknown host")
            return
        try:
            target = self._resolve()
        except UnicodeDecodeError:
            target = None
        if target is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        try:
            data = target.read_bytes()
        except OSError:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        self._reply(HTTPStatus.OK, MIME_TYPES.get(target.suffix.lower(), "application/octet-stream"), data, head_only)

    def _error(self, status: HTTPStatus, text: str) -> None:
        body = f"{status.value} {text}\n".encode()
        self._reply(status, "text/plain; charset=utf-8", body, self.command == "HEAD")

    def _reply(self, status: HTTPStatus, content_type: str, body: bytes, head_only: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)
            self._sent = len(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._send(head_only=False)

    def do_HEAD(self):  # noqa: N802
        self._send(head_only=True)

    def _refuse(self):
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


class RequestLog:
    """One printable line per request: ``GET /index.html 200 1234 B``, with ``(client went away)`` when the client
    closed the connection before the answer was sent. Method and path come from the client: they go through
    ``edgemnist.safetext``. ``write``: where the line goes (default: this module's logger, at INFO)."""

    def __init__(self, write=None) -> None:
        self._write = write or log.info
        self._lock = threading.Lock()

    def __call__(self, method, path, status, sent: int, gone: bool) -> None:
        from edgemnist.safetext import safe

        line = f"{safe(method or '-', 16)} {safe(path or '-', 200)} {status or '-'} {sent} B" + (
            " (client went away)" if gone else ""
        )
        with self._lock:
            self._write(line)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_log: RequestLog

    def handle_error(self, request, client_address):
        """Anything a request raised that handle_one_request did not turn into a log line: one line, never a
        traceback on stderr (``--debug`` logs the traceback)."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, CLIENT_GONE):
            return  # a client gone during the connection's set-up or shutdown: nothing to say
        log.warning("request from %s failed: %s: %s", client_address[0], type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)


class WebServer:
    """A running server (in a background thread). ``url`` is where the folder is; ``close()`` stops it."""

    def __init__(self, httpd: ThreadingHTTPServer, root: Path):
        self._httpd = httpd
        self.root = root
        self.port = httpd.server_address[1]
        self.url = f"http://{HOST}:{self.port}/"
        self._thread = threading.Thread(target=httpd.serve_forever, name="edgemnist-serve", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Block until the server is closed (KeyboardInterrupt propagates)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def serve_until_interrupted(self) -> None:
        """``wait`` until Ctrl-C, then ``close`` (what ``edgemnist serve`` and ``python -m`` run)."""
        try:
            self.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(directory: str | os.PathLike[str], port: int = 0, *, log_line=None) -> WebServer:
    """Serve ``directory`` on http://127.0.0.1:port/ (0: a free port) and return the running server.
    ``log_line(text)`` receives one line per request (``RequestLog``; default: this module's logger)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root}: expected a folder to serve (an exported web folder with index.html)")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer from 0 to 65535; got {port!r}")
    handler = type("Handler", (_Handler,), {"root": root.resolve()})
    try:
        httpd = _Server((HOST, port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    httpd.request_log = RequestLog(log_line)
    return WebServer(httpd, root.resolve())


def stderr_line(text: str) -> None:
    """A request's log line on stderr, flushed (what ``edgemnist serve`` prints)."""
    import sys

    from edgemnist.safetext import emit

    emit(text, sys.stderr)
    sys.stderr.flush()


def tunnel_hint(port: int) -> str:
    """The ``ssh -L`` line a user on another machine runs to open the page there (the server stays on
    127.0.0.1: the tunnel is how a remote browser reaches it)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "USER"
    host = socket.gethostname() or "HOST"
    return f"from another machine: ssh -N -L {port}:{HOST}:{port} {user}@{host}, then open http://{HOST}:{port}/ there"


def main(argv: list[str] | None = None) -> int:
    """``python -m edgemnist.web.serve DIR [PORT]``: serve until interrupted; prints the URL first."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or (len(args) == 2 and not args[1].isdigit()):
        print("usage: python -m edgemnist.web.serve DIR [PORT]", file=sys.stderr)
        return 2
    try:
        server = serve(args[0], int(args[1]) if len(args) == 2 else 0, log_line=stderr_line)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(server.url, flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
