"""edgemnist.web.serve (what ``edgemnist serve`` runs) and the wasm module reader (fast tier)."""

from __future__ import annotations

import http.client

import pytest

from edgemnist.build import wasmfile
from edgemnist.cli import main
from edgemnist.errors import BuildError, ConfigError
from edgemnist.web.serve import serve


@pytest.fixture
def folder(tmp_path):
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>x</title>")
    (site / "m.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (site / "a.js").write_text("export {};")
    (site / "sub" / "data.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("outside")
    (site / "link.txt").symlink_to(tmp_path / "secret.txt")
    return site


def _get(server, path, *, method="GET", host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def test_serve_sends_files_with_types_and_isolation_headers(folder):
    with serve(folder) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/" and server.port > 0
        for path, mime in [
            ("/", "text/html; charset=utf-8"),
            ("/index.html", "text/html; charset=utf-8"),
            ("/m.wasm", "application/wasm"),
            ("/a.js", "text/javascript; charset=utf-8"),
            ("/sub/data.json", "application/json"),
            ("/a.js?v=1", "text/javascript; charset=utf-8"),
        ]:
            resp, body = _get(server, path)
            assert resp.status == 200, path
            assert resp.getheader("Content-Type") == mime
            assert resp.getheader("Cross-Origin-Opener-Policy") == "same-origin"
            assert resp.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
            assert int(resp.getheader("Content-Length")) == len(body) > 0
        resp, body = _get(server, "/m.wasm", method="HEAD")
        assert resp.status == 200 and body == b"" and resp.getheader("Content-Length") == "8"


def test_serve_refuses_traversal_listings_other_hosts_and_methods(folder):
    with serve(folder) as server:
        for path in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/sub/../../secret.txt",
            "/link.txt",
            "/sub/",
            "/sub",
            "/missing.js",
            "/%2e%2e%2fsecret.txt",
            "/..%5csecret.txt",
            "/%00",
            "/%ff",
            "secret",
        ]:
            resp, body = _get(server, path)
            assert resp.status == 404, path
            assert b"outside" not in body
        assert _get(server, "/", host="evil.example:80")[0].status == 421  # DNS rebinding
        assert _get(server, "/", host=f"localhost:{server.port}")[0].status == 200
        assert _get(server, "/", method="POST")[0].status == 405
        assert server._httpd.server_address[0] == "127.0.0.1"


def test_serve_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="expected a folder"):
        serve(tmp_path / "nope")
    with pytest.raises(ConfigError, match="port must be"):
        serve(tmp_path, port=70000)


def test_inspect_module_lists_imports_and_exports():
    # (module (import "env" "memcpy" (func)) (memory 1) (export "memory" (memory 0)))
    module = bytes(
        [
            0,
            97,
            115,
            109,
            1,
            0,
            0,
            0,
            1,
            4,
            1,
            96,
            0,
            0,
            2,
            14,
            1,
            3,
            101,
            110,
            118,
            6,
            109,
            101,
            109,
            99,
            112,
            121,
            0,
            0,
            5,
            3,
            1,
            0,
            1,
            7,
            10,
            1,
            6,
            109,
            101,
            109,
            111,
            114,
            121,
            2,
            0,
        ]
    )
    info = wasmfile.inspect_module(module)
    assert info.imports == (("env", "memcpy"),) and info.exports == ("memory",)
    with pytest.raises(BuildError, match="not a WebAssembly"):
        wasmfile.inspect_module(b"hello")


def test_serve_command_bad_input(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["serve", str(tmp_path)]) == 2
    assert "no index.html; expected an exported web folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["serve", str(tmp_path), "--port", "70000"])
    assert exc.value.code == 2
