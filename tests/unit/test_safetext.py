"""Safe printing and fixed-form fields (edgemnist.safetext): pure functions, no runtime."""

from __future__ import annotations

import io

import pytest

from edgemnist.safetext import emit, is_iso_datetime, is_sha256, safe, safe_json


@pytest.mark.parametrize(
    "text,shown",
    [
        ("plain text", "plain text"),
        ("line\nerror: forged", "line\\x0aerror: forged"),
        ("\x1b[2J cleared", "\\x1b[2J cleared"),
        ("\x9b2J c1", "\\x9b2J c1"),
        ("bidi \u202e", "bidi \\u202e"),
        ("sep \u2028", "sep \\u2028"),
        ("lone \udcff", "lone \ufffd"),
        ("tab\tcr\r", "tab\\x09cr\\x0d"),
        ("caf\u00e9 \u6570", "caf\u00e9 \u6570"),
    ],
)
def test_safe_shows_controls_as_escapes_and_keeps_text(text, shown):
    assert safe(text) == shown


def test_safe_is_one_line_and_bounded():
    out = safe("a\n" * 10_000, 100)
    assert "\n" not in out and len(out) < 600 and out.endswith("…")


def test_emit_never_raises_for_the_stream_encoding():
    for encoding in ("ascii", "utf-8", "latin-1"):
        buf = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict")
        emit("x \udcff \u6570 \x1b[0m", buf)
        buf.flush()
        text = buf.buffer.getvalue().decode(encoding)
        assert text.count("\n") == 1 and "\x1b" not in text


def test_safe_json_escapes_everything():
    assert safe_json({"a": "\x1b\udcff\n"}) == '{"a": "\\u001b\\udcff\\n"}'


def test_fixed_forms():
    assert is_sha256("0" * 64) and not is_sha256("0" * 63) and not is_sha256("Z" * 64) and not is_sha256("A" * 64)
    assert not is_sha256(None) and not is_sha256(["0" * 64])
    assert is_iso_datetime("2026-12-01T09:18:35+00:00") and is_iso_datetime("2026-12-01")
    for bad in ("2026-13-01", "yesterday", "2026-12-01\udcff", "2026-12-01T25:00:00", 20261201, None):
        assert not is_iso_datetime(bad)
