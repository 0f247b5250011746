"""The CLI's stderr filter drops only the known native noise (in a child: it works on fd 2)."""

from __future__ import annotations

import subprocess
import sys


def test_filtered_stderr_drops_only_known_native_noise():
    code = r"""
import os, sys
from edgemnist._stderr import filtered_stderr
with filtered_stderr():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8\n")
    os.write(2, b"a real native warning\n")
    print("error: from python", file=sys.stderr)
os.write(2, b"after\n")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert sorted(proc.stderr.splitlines()) == ["a real native warning", "after", "error: from python"]
