#!/bin/sh
# The device install, for real: build the wheel, install it with one runtime extra into a fresh venv in
# another folder, run `edgemnist evaluate` from there, and prove no TensorFlow/Keras came along.
#
#   tests/device_install.sh MODEL [EXTRA] [WORKDIR]
#
# MODEL: an exported artifact (its manifest beside it), e.g. export/model.int8.tflite; EXTRA: litert (default),
# onnx or micro, matching MODEL; WORKDIR: where the wheel and the venv go (default: a new temp folder; the
# venv is left there for inspection). MNIST comes from EDGEMNIST_DATA_DIR if set, else it is downloaded (the
# `data` extra is installed too in that case). Needs network access to PyPI. Prints the timings, the installed
# packages and the venv size; exits non-zero on any failure.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 MODEL [EXTRA] [WORKDIR]" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
EXTRA=${2:-litert}
WORK=${3:-$(mktemp -d "${TMPDIR:-/tmp}/edgemnist-device.XXXXXX")}
PY=${PYTHON:-python3}
[ -f "$MODEL" ] || { echo "error: $MODEL: no such model file" >&2; exit 2; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$WORK/" in "$REPO"/*) echo "error: WORKDIR must be outside the repository" >&2; exit 2 ;; esac
EXTRAS=$EXTRA
[ -n "${EDGEMNIST_DATA_DIR:-}" ] || EXTRAS="$EXTRA,data"

now() { date +%s; }
t0=$(now)
rm -rf "$WORK/dist"
"$PY" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$REPO"
WHEEL=$(ls "$WORK"/dist/edgemnist-*.whl)
t1=$(now)
echo "wheel: $(basename "$WHEEL") ($(( t1 - t0 )) s)"

rm -rf "$WORK/venv"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL[$EXTRAS]"
t2=$(now)
echo "install: pip install '$(basename "$WHEEL")[$EXTRAS]' ($(( t2 - t1 )) s)"

# Run from the work folder, with a clean environment for Python: the installed package, not the checkout.
cd "$WORK"
env -u PYTHONPATH "$WORK/venv/bin/edgemnist" evaluate "$MODEL"
t3=$(now)
echo "evaluate: $(( t3 - t2 )) s"

"$WORK/venv/bin/python" -m pip list --format=freeze --disable-pip-version-check > "$WORK/pip-list.txt"
echo "packages: $(tr '\n' ' ' < "$WORK/pip-list.txt")"
if grep -Eiq '^(tensorflow|tensorflow-cpu|tf-keras|keras|tf2onnx)==' "$WORK/pip-list.txt"; then
    echo "error: the device venv holds TensorFlow or Keras" >&2
    exit 1
fi
env -u PYTHONPATH "$WORK/venv/bin/python" -c "
import sys, edgemnist, edgemnist.predictor
assert '$WORK' in edgemnist.__file__, edgemnist.__file__
assert not any(m in sys.modules for m in ('tensorflow', 'keras')), 'tensorflow imported'
"
echo "venv size: $(du -sm "$WORK/venv" | cut -f1) MB ($WORK/venv)"
echo "device install OK"
