"""Sizes, said one way everywhere (export, bench, info, the README).

Vocabulary:

- **model size** (``model_bytes``): the bytes a device stores for the model -- the ``.tflite`` flatbuffer or
  the ``.onnx`` file; for the TFLite Micro artifact, the C array's bytes (the flatbuffer in flash), never the
  length of the ``.cc`` text that spells them out.
- **file size**: what a file takes on disk; said as such, and only where it differs from the model size.
- **arena**: TFLite Micro's working RAM, in exact bytes.
- **memory**: a process's RSS, always in MB (``memory_text``).

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


def model_bytes(manifest: dict) -> int | None:
    """The model size an artifact's manifest records: the bytes a device stores for the model.

    Where the artifact is source text that spells the model out (the TFLite Micro ``.cc``), that is the
    array's length (``micro.flash_bytes``: the flatbuffer placed in flash; TFLM's own code is not counted),
    or a format section's ``model_bytes``; otherwise the artifact file's bytes.
    """
    for key, section in manifest.items():
        if key != "artifact" and isinstance(section, dict) and isinstance(section.get("model_bytes"), int):
            return section["model_bytes"]
    micro = manifest.get("micro")
    if isinstance(micro, dict) and isinstance(micro.get("flash_bytes"), int):
        return micro["flash_bytes"]
    artifact = manifest.get("artifact")
    return artifact.get("bytes") if isinstance(artifact, dict) else None


def memory_text(n: int | None) -> str:
    """Process memory (RSS), always in MB = 10^6 B, one decimal: ``47_012_000 -> "47.0 MB"``. Memory is not a
    model size: model sizes are always kB (``size_text``), so the two never mix in one column."""
    if n is None:
        return "-"
    return f"{n / 1e6:,.1f} MB"


#: Suffixes ``parse_size`` takes: binary (K, KiB, M, MiB: what a microcontroller's data sheet means by 64K) and
#: decimal (kB, MB), and plain bytes.
SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KIB": 1024, "KB": 1000, "M": 1 << 20, "MIB": 1 << 20, "MB": 1000**2}


def parse_size(text: str) -> int:
    """A memory budget as bytes: ``"65536"``, ``"64K"`` / ``"64KiB"`` (65,536), ``"64kB"`` (64,000),
    ``"1M"`` / ``"1MiB"``, ``"1MB"``. ConfigError saying what is expected for anything else (``"12Q"``, ``"0"``)."""
    import re

    from edgemnist.errors import ConfigError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text) if isinstance(text, str) else None
    unit = m.group(2) if m else ""
    key = "KB" if unit == "kB" else unit.upper()
    if unit in ("KB", "kb", "Kb"):  # ambiguous spellings: only kB (decimal) and K/KiB (binary) are sizes here
        key = "?"
    if m is None or key not in SIZE_UNITS or float(m.group(1)) * SIZE_UNITS[key] < 1:
        raise ConfigError(
            f"expected a size such as 65536, 64K (= 64 KiB), 64KiB, 64kB (= 64,000 B), 1M or 1MB, got {text!r}"
        )
    return int(float(m.group(1)) * SIZE_UNITS[key])
