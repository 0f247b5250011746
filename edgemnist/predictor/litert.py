"""LiteRT (TensorFlow Lite) backend for ``.tflite`` artifacts.

Uses ``ai_edge_litert.interpreter.Interpreter`` (the ``litert`` extra); only when that
package is absent does it fall back to ``tf.lite.Interpreter`` from a full TensorFlow install.
An interpreter is not thread-safe, so every call holds a lock; the input is resized (and the tensors
re-allocated) only when the batch size changes.

Speed: a batch-1 int8 invoke takes ~15 us (measured on a 2-core CI box), so Python-level overhead matters. The
Python ``Interpreter``
class is a thin wrapper over a C++ object (``_interpreter``); when that object has the expected methods
we call them directly, and ``bind`` writes the converted pixels straight into the interpreter's input
buffer and converts straight out of its output buffer (no set_tensor/get_tensor copies). The wrapper's
``_ensure_safe`` refcount check exists to stop *callers* holding buffer views across ``invoke`` and
``allocate_tensors`` because those views could dangle after a re-allocation; here the views never leave
this object, and are re-taken right after every re-allocation, under the lock. If the wrapper's
internals ever change, everything falls back to the public methods (``bind`` then returns None).
"""

from __future__ import annotations

from _thread import allocate_lock  # threading.Lock itself, without importing threading on the device path
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.allowlist import MAX_MODEL_BYTES
from edgemnist.errors import ArtifactError, first_line
from edgemnist.flatbuffer import check_tflite
from edgemnist.predictor.base import DTYPES, Backend, RawLoop, TensorSpec

#: [True] once an interpreter has been built in this process: LiteRT prints its delegate line only the first time.
_QUIET = [False]
_PRIVATE = ("SetTensor", "Invoke", "GetTensor", "ResizeInputTensor", "AllocateTensors", "tensor")


def _interpreter_class() -> tuple[type, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError as litert_exc:
        try:
            import tensorflow as tf  # heavy; only when ai-edge-litert is not installed
        except ImportError:
            from edgemnist._deps import missing

            raise missing("ai-edge-litert", "litert", litert_exc) from None
        return tf.lite.Interpreter, "tensorflow"


def _spec(d: dict[str, Any], path: Path) -> TensorSpec:
    dtype = np.dtype(d["dtype"]).name
    if dtype not in DTYPES:
        raise ArtifactError(f"{path}: tensor {d['name']!r} is {dtype}; expected one of {', '.join(DTYPES)}")
    shape = tuple(int(v) for v in d.get("shape_signature", d["shape"]))
    scale, zp = d["quantization"]
    if dtype == "float32":
        return TensorSpec(d["name"], shape, dtype)
    return TensorSpec(d["name"], shape, dtype, float(scale), int(zp))


def open_interpreter(path: str | Path, threads: int = 1, data: bytes | None = None) -> tuple[Any, str]:
    """(interpreter with tensors allocated, package name): what ``LiteRTBackend`` runs, and the raw baseline
    ``edgemnist bench`` times. ``data``: the file's bytes when the caller has read them (else read here).
    ArtifactError if the file is not a loadable model."""
    return _open(path, threads, data)[:2]


def _open(path: str | Path, threads: int, data: bytes | None) -> tuple[Any, str, list, list]:
    """``open_interpreter`` and the input and output details its checks read (asked of LiteRT once)."""
    interpreter_cls, package = _interpreter_class()
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_MODEL_BYTES + 1)  # check_tflite refuses anything larger
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    check_tflite(data, str(path))  # the structure first: a file outside the allow-list never reaches LiteRT
    try:
        # The bytes that were checked are the bytes LiteRT runs (never the path again).
        if _QUIET[0]:
            ip = interpreter_cls(model_content=data, num_threads=threads)
            ip.allocate_tensors()
        else:  # the first allocation in a process prints "INFO: Created ... XNNPACK delegate" on fd 2
            from edgemnist._stderr import without_native_noise

            with without_native_noise():
                ip = interpreter_cls(model_content=data, num_threads=threads)
                ip.allocate_tensors()
            _QUIET[0] = True
        ins, outs = ip.get_input_details(), ip.get_output_details()
    except Exception as exc:  # ValueError/RuntimeError from the runtime, or whatever its wrapper raises
        raise ArtifactError(
            f"{path}: not a loadable TFLite model ({first_line(exc, default=type(exc).__name__)})"
        ) from None
    if len(ins) != 1 or len(outs) != 1:
        raise ArtifactError(f"{path}: has {len(ins)} inputs and {len(outs)} outputs; expected 1 and 1")
    for what, d in (("input", ins[0]), ("output", outs[0])):
        if len(d["shape"]) != 2:
            raise ArtifactError(f"{path}: {what} tensor has shape {list(d['shape'])}; expected [N, width]")
    return ip, package, ins, outs


class LiteRTBackend(Backend):
    runtime = "LiteRT"
    reads_bytes = True

    def __init__(self, path: Path, threads: int = 1, data: bytes | None = None) -> None:
        self.path = Path(path)
        self.threads = threads
        ip, self._package, ins, outs = _open(path, threads, data)  # one input and one output, checked there
        self._ip = ip
        self.input = _spec(ins[0], path)
        self.output = _spec(outs[0], path)
        self._in = int(ins[0]["index"])
        self._out = int(outs[0]["index"])
        self._width = int(ins[0]["shape"][-1])
        self._batch = int(ins[0]["shape"][0])  # the batch size the tensors are allocated for
        self._lock = allocate_lock()
        self._in_views: dict[np.dtype, np.ndarray | None] = {}  # input buffer viewed as each dtype bind() asked for
        self._out_view: np.ndarray | None = None
        cc = getattr(ip, "_interpreter", None)
        self._cc = cc if cc is not None and all(hasattr(cc, n) for n in _PRIVATE) else None
        if self._cc is not None:
            try:
                self._cc.GetTensor(self._out, 0)
            except TypeError:  # another signature: use the public API
                self._cc = None
        if self._cc is not None:
            self._set, self._invoke, self._get, self._get_args = cc.SetTensor, cc.Invoke, cc.GetTensor, (self._out, 0)
        else:
            self._set, self._invoke, self._get, self._get_args = ip.set_tensor, ip.invoke, ip.get_tensor, (self._out,)

    # ----------------------------------------------------------------- buffers

    def _take_views(self) -> None:
        cc = self._cc
        base = cc.tensor(cc, self._in)
        for dt in self._in_views:
            self._in_views[dt] = base.view(dt)
        self._out_view = cc.tensor(cc, self._out)

    def _resize(self, n: int) -> None:
        shape = [n, self._width]
        if self._cc is not None:
            for dt in self._in_views:  # no view may outlive the buffers it points into
                self._in_views[dt] = None
            self._out_view = None
            self._cc.ResizeInputTensor(self._in, np.array(shape, dtype=np.int32), False)
            self._cc.AllocateTensors()
            if self._in_views:
                self._take_views()
        else:
            self._ip.resize_tensor_input(self._in, shape)
            self._ip.allocate_tensors()
        self._batch = n

    # ----------------------------------------------------------------- inference

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            if x.shape[0] != self._batch:
                self._resize(x.shape[0])
            self._set(self._in, x)
            self._invoke()
            return self._get(*self._get_args)  # GetTensor copies out of the interpreter's buffer

    def bind(self, write: Callable, read: Callable, as_dtype=None) -> Callable[[np.ndarray], np.ndarray] | None:
        if self._cc is None:
            return None
        dt = np.dtype(as_dtype) if as_dtype is not None else self.input.np_dtype
        if dt.itemsize != self.input.np_dtype.itemsize:
            raise ValueError(f"cannot view the {self.input.dtype} input buffer as {dt}")
        with self._lock:
            self._in_views.setdefault(dt, None)
            self._take_views()
        lock, views, invoke, resize = self._lock, self._in_views, self._invoke, self._resize

        def call(x: np.ndarray) -> np.ndarray:
            with lock:
                if x.shape[0] != self._batch:
                    resize(x.shape[0])
                write(x, views[dt])
                invoke()
                return read(self._out_view)

        return call

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        ip, package = open_interpreter(path, threads)
        i, o = ip.get_input_details()[0], ip.get_output_details()[0]["index"]

        def prepare(batch: int):
            ip.resize_tensor_input(i["index"], [batch, int(i["shape"][-1])])
            ip.allocate_tensors()
            set_tensor, invoke, get_tensor, index = ip.set_tensor, ip.invoke, ip.get_tensor, i["index"]

            def call(x):
                set_tensor(index, x)
                invoke()
                return get_tensor(o)

            return call

        return RawLoop(f"{package} Interpreter: set_tensor, invoke, get_tensor", prepare)

    # ----------------------------------------------------------------- facts

    def quantization(self) -> str | None:
        if self.input.dtype != "float32" or self.output.dtype != "float32":
            return "int8"
        with self._lock:
            tensors = self._ip.get_tensor_details()
        kinds = {(np.dtype(d["dtype"]).name, -1 in list(d.get("shape_signature", []))) for d in tensors}
        if ("int8", True) in kinds:  # int8 activations (they carry the dynamic batch dimension): full integer
            return "int8"
        if any(dt == "float16" for dt, _ in kinds):
            return "float16"
        if any(dt == "int8" for dt, _ in kinds):  # int8 weights only
            return "dynamic"
        return "float32"

    def details(self) -> dict[str, Any]:
        from importlib import metadata

        dist = "ai-edge-litert" if self._package == "ai_edge_litert" else "tensorflow"
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "?"
        with self._lock:
            tensors, signatures = self._ip.get_tensor_details(), self._ip.get_signature_list()
        return {
            "interpreter": f"{self._package} {version}",
            "num_threads": self.threads,
            "tensors": len(tensors),
            "signatures": sorted(signatures),
            "zero_copy": self._cc is not None,
        }

    def close(self) -> None:
        with self._lock:
            # Our references to the C++ interpreter go first, then the wrapper (which orders its own teardown).
            self._in_views.clear()
            self._out_view = self._set = self._invoke = self._get = self._cc = None
            self._ip = None
