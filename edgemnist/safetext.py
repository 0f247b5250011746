"""Text from files, made safe to print, and validators for fields that have a fixed form.

Anything edgemnist prints from a manifest, a model's metadata or a runtime's message goes through
``safe()``: a manifest is data an attacker may have written, and a terminal executes what it is sent
(``ESC[2J`` clears the screen, a newline forges a second ``error:`` line, a lone surrogate makes Python's
own ``print`` raise ``UnicodeEncodeError``). ``safe()`` returns one line that is exactly the text when the
text is harmless, and otherwise shows every control character, escape sequence, line or paragraph
separator and invisible formatting character (bidi overrides) as a visible ``\\xNN`` / ``\\uNNNN`` escape, and
every lone surrogate as U+FFFD.

``emit(text, stream)`` writes such a line so that it also encodes in the stream's own encoding (an ASCII or
strict-UTF-8 stdout gets backslash escapes instead of an exception).
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

#: Default length of one printed field; longer text is cut with an ellipsis (a manifest may hold 1 MB).
MAX_FIELD_CHARS = 500

# These two are compiled on first use, through re's own cache (a wide character class takes ~0.2 ms to compile,
# which every device start-up would pay; loading a model only prints on failure).
_SURROGATE = "[\ud800-\udfff]"
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
_CONTROL = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _needs_escape(ch: str) -> bool:
    import unicodedata  # only for text that is not plain ASCII: a device loading a clean manifest never needs it

    return bool(re.match(_CONTROL, ch)) or unicodedata.category(ch) in ("Cf", "Co", "Cn") and ch != "\ufeff"


def safe(value: Any, limit: int | None = MAX_FIELD_CHARS) -> str:
    """``value`` as one harmless line (see the module doc); ``str()`` of anything that is not a string.
    At most ``limit`` characters of the original are kept (None: all)."""
    text = value if isinstance(value, str) else str(value)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    text = re.sub(_SURROGATE, "\ufffd", text)
    if not text.isascii() or re.search(_CONTROL, text):
        text = "".join(_escape(ch) if _needs_escape(ch) else ch for ch in text)
    return text + "…" if cut else text


def safe_json(value: Any, limit: int | None = MAX_FIELD_CHARS) -> str:
    """A JSON value (dict, list...) as one harmless line: ``json.dumps`` escapes every control character and
    every non-ASCII one, surrogates included."""
    import json

    return safe(json.dumps(value, ensure_ascii=True, default=str), limit)


def emit(text: str, stream: TextIO | None = None) -> None:
    """Write ``safe(text)`` and a newline to ``stream`` (stdout by default), escaping whatever the stream's
    encoding cannot represent instead of raising."""
    stream = sys.stdout if stream is None else stream
    line = safe(text, None)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        try:
            line = line.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            line = line.encode("ascii", "backslashreplace").decode("ascii")
    stream.write(line + "\n")


# --------------------------------------------------------------------------- fixed-form fields


def is_sha256(value: Any) -> bool:
    """A sha256 as edgemnist writes it: 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_iso_datetime(value: Any) -> bool:
    """An ISO 8601 date or date-time as ``datetime.isoformat()`` writes it (what manifests record)."""
    import datetime as _dt

    if not (isinstance(value, str) and _ISO_DATETIME.fullmatch(value)):
        return False
    try:
        _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_dtype(value: Any, known: tuple[str, ...] = ("float32", "int8", "uint8")) -> bool:
    return isinstance(value, str) and value in known
