"""The session's real artifacts that hostile files are made from (copies only; the originals are never touched).

``EDGEMNIST_ARTIFACTS=/path/to/export`` points at a folder holding a default export (every format and mode,
with manifests): the suite then needs no training. Otherwise the artifacts come from the ``export_artifact``
fixture (one training run per session).
"""

from __future__ import annotations

import os
from pathlib import Path

#: name -> (format, mode, io, file name of that export)
ARTIFACTS = {
    "tflite-int8": ("tflite", "int8", None, "model.int8.tflite"),
    "tflite-int8-floatio": ("tflite", "int8", "float", "model.int8-floatio.tflite"),
    "tflite-dynamic": ("tflite", "dynamic", None, "model.dynamic.tflite"),
    "tflite-float16": ("tflite", "float16", None, "model.float16.tflite"),
    "tflite-float32": ("tflite", "float32", None, "model.float32.tflite"),
    "onnx-int8": ("onnx", "int8", None, "model.int8.onnx"),
    "onnx-dynamic": ("onnx", "dynamic", None, "model.dynamic.onnx"),
    "onnx-float32": ("onnx", "float32", None, "model.float32.onnx"),
    "micro": ("micro", "int8", None, "model_data.cc"),
}


def artifacts(request, names=tuple(ARTIFACTS)) -> dict[str, Path]:
    folder = os.environ.get("EDGEMNIST_ARTIFACTS")
    if folder:
        paths = {n: Path(folder) / ARTIFACTS[n][3] for n in names}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"EDGEMNIST_ARTIFACTS={folder} lacks {', '.join(missing)}")
        return paths
    export_artifact = request.getfixturevalue("export_artifact")
    return {n: Path(export_artifact(*ARTIFACTS[n][:3]).path) for n in names}


def mnist_images(request, n: int = 64):
    """n real MNIST test images (uint8, (n, 28, 28)), for the children to predict."""
    from edgemnist.data import load_test

    data_dir = os.environ.get("EDGEMNIST_DATA_DIR") or str(request.getfixturevalue("data_dir"))
    images, _ = load_test(data_dir)
    return images[:n]
