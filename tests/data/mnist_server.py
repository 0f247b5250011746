"""A local HTTP server for the download tests of tests/data/: serves a folder on 127.0.0.1 while a block runs."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import time
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging; with ``delay`` > 0, in 16 KB pieces ``delay`` seconds apart (a flaky link)."""

    delay = 0.0

    def copyfile(self, source, outputfile):
        if not self.delay:
            return super().copyfile(source, outputfile)
        while chunk := source.read(16384):
            outputfile.write(chunk)
            outputfile.flush()
            time.sleep(self.delay)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(root: Path, delay: float = 0.0):
    """Serve ``root`` on a free port of 127.0.0.1; yields the base URL (no trailing slash)."""
    handler = functools.partial(type("H", (QuietHandler,), {"delay": delay}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
