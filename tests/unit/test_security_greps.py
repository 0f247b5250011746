"""What the code never does, by grep: pickle, eval/exec, a shell, unsafe loaders or Keras loads, and opening a
path a manifest names."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "edgemnist"


FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.|\bcPickle\b|\bdill\b|\bcloudpickle\b": "pickle",
    r"allow_pickle\s*=\s*True": "allow_pickle=True",
    r"safe_mode\s*=\s*False": "safe_mode=False",
    r"enable_unsafe_deserialization": "unsafe Keras deserialization",
    r"(?<![\w.])eval\(": "eval(",
    r"(?<![\w.])exec\(": "exec(",
    r"shell\s*=\s*True|os\.system\(|os\.popen\(": "a shell",
    r"yaml\.load\(|\bmarshal\.|\bshelve\b|torch\.load\(": "an unsafe loader",
}


def test_no_pickle_eval_or_unsafe_loads_anywhere():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")) + sorted((REPO / "benchmarks").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in FORBIDDEN.items():
            for m in re.finditer(pattern, text):
                line = text.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(REPO)}:{line}: {what}")
        for m in re.finditer(r"np\.load\((?![^)]*allow_pickle=False)", text):
            offenders.append(
                f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: np.load without allow_pickle=False"
            )
        for m in re.finditer(r"load_model\([^)]*\)", text):
            if "keras.saving.load_model" in m.group(0) and "safe_mode=True" not in m.group(0):
                offenders.append(f"{path.relative_to(REPO)}: keras load_model without safe_mode=True")
    assert not offenders, "\n".join(offenders)


def test_nothing_reads_a_manifest_name_to_open_a_file():
    """A grep: the manifest's file names are written (export) and displayed, never joined to a path, except
    the bench's plain-name Keras lookup checked above."""
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""\[["']file["']\]|\.get\(["']file["']\)""", line):
                uses.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert all("bench/keras.py" in u for u in uses), "\n".join(uses)
