"""Sizes, said one way everywhere (export, bench, info, the README).

Vocabulary:

- **model size** (``model_bytes``): the bytes a device stores for the model -- the ``.tflite`` flatbuffer or
  the ``.onnx`` file; for the TFLite Micro artifact, the C array's bytes (the flatbuffer in flash), never the
  length of the ``.cc`` text that spells them out.
- **file size**: what a file takes on disk; said as such, and only where it differs from the model size.
- **arena**: TFLite Micro's working RAM, in exact bytes.

Units: kB = 1000 B, one decimal, always kB for sizes (``423.2 kB``, ``1,630.0 kB``), so a table never shows
``1.6 MB`` beside ``1630.0 kB``; exact counts in B with thousands separators (``9,936 B``).
"""

from __future__ import annotations

KB = 1000


def size_text(n: int | None) -> str:
    """A size in kB (1000 B), one decimal: ``423192 -> "423.2 kB"``; ``None -> "-"``."""
    if n is None:
        return "-"
    return f"{n / KB:,.1f} kB"


def bytes_text(n: int | None) -> str:
    """An exact byte count: ``9936 -> "9,936 B"``; ``None -> "-"``."""
    if n is None:
        return "-"
    return f"{int(n):,} B"
