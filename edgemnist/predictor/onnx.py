"""ONNX Runtime backend for ``.onnx`` artifacts (the ``onnx`` extra, ``edgemnist._deps.install_hint``).

One ``InferenceSession`` on the CPU execution provider with ``intra_op_num_threads=threads`` and
``inter_op_num_threads=1``. ORT sessions are thread-safe, so ``run`` takes no lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgemnist._deps import require
from edgemnist.errors import ArtifactError, first_line
from edgemnist.predictor.base import Backend, RawLoop, TensorSpec

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


def _spec(arg, path: Path) -> TensorSpec:
    dtype = _ORT_DTYPES.get(arg.type)
    if dtype is None:
        raise ArtifactError(f"{path}: tensor {arg.name!r} is {arg.type}; expected float32, int8 or uint8")
    if not isinstance(arg.shape, (list, tuple)) or len(arg.shape) != 2:
        raise ArtifactError(f"{path}: tensor {arg.name!r} has shape {arg.shape}; expected [N, width]")
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
    # ORT does not expose the quantization of graph inputs/outputs; the Predictor takes it from the manifest.
    return TensorSpec(arg.name, shape, dtype)


def open_session(path: str | Path, threads: int = 1) -> Any:
    """The ``InferenceSession`` ``OnnxBackend`` runs (also the raw baseline ``edgemnist bench`` times): CPU
    provider, ``threads`` intra-op threads, one inter-op thread, sequential. ArtifactError if unloadable."""
    return _open(path, threads)[0]


def _open(path: str | Path, threads: int = 1, data: bytes | None = None) -> tuple[Any, frozenset[str]]:
    """``open_session`` and the graph's operator types, as the pre-session check read them. ``data``: the
    file's bytes when the caller has read them (else read here)."""
    from edgemnist.onnxcheck import check_onnx

    ort = require("onnxruntime", "onnx")
    quiet(ort)
    data = _read_bounded(path) if data is None else _bounded(path, data)
    checked = check_onnx(data, str(path))  # the graph first: nothing outside this network's allow-list reaches ORT
    opts = ort.SessionOptions()
    if "INT2" in checked.tensor_types:
        # ONNX Runtime's extended optimizations fuse DequantizeLinear + Gemm into QGemm, which refuses INT2
        # weights ("Type 'tensor(int2)' ... of operator (QGemm) ... is invalid"); at the basic level the
        # DequantizeLinear runs as written.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = _FATAL_ONLY
    try:
        # The bytes that were checked are the bytes ORT parses (never the path again).
        # enable_fallback=0: with the CPU provider only, ORT's "fallback" retries the same failed load after
        # printing an "EP Error" banner on stdout; a corrupt model should fail once, quietly.
        sess = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"], enable_fallback=0)
        sess.get_inputs(), sess.get_outputs()
    except Exception as exc:  # ORT raises its own pybind exception types (InvalidProtobuf, Fail, ...)
        raise ArtifactError(
            f"{path}: not a loadable ONNX model ({first_line(exc, default=type(exc).__name__)}){_looks_like(path)}"
        ) from None
    return sess, checked.ops


#: ORT's own log lines (coloured, several per failure) would break the CLI's one-line error promise; its
#: failures surface as exceptions that edgemnist turns into its own messages.
_FATAL_ONLY = 4


def quiet(ort) -> None:
    """Silence ONNX Runtime's default logger (the one sessions and runs log through when their own level
    allows)."""
    try:
        ort.set_default_logger_severity(_FATAL_ONLY)
    except (AttributeError, RuntimeError):  # pragma: no cover - very old onnxruntime
        pass


def run_options(ort):
    opts = ort.RunOptions()
    opts.log_severity_level = _FATAL_ONLY
    return opts


def _read_bounded(path: str | Path) -> bytes:
    from edgemnist.allowlist import MAX_MODEL_BYTES

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return _bounded(path, data)


def _bounded(path: str | Path, data: bytes) -> bytes:
    from edgemnist.allowlist import MAX_MODEL_BYTES

    if len(data) > MAX_MODEL_BYTES:
        raise ArtifactError(f"{path}: larger than any ONNX model of this network ({MAX_MODEL_BYTES} bytes at most)")
    return data


def _looks_like(path: str | Path) -> str:
    """ "; it looks like a PNG image" when the file is recognizably something else, else ""."""
    from edgemnist.flatbuffer import sniff

    try:
        with open(path, "rb") as fh:
            guess = sniff(fh.read(512))
    except OSError:
        return ""
    return f"; it looks like {guess}" if guess and "ONNX" not in guess else ""


class OnnxBackend(Backend):
    runtime = "ONNX Runtime"
    reads_bytes = True

    def __init__(self, path: Path, threads: int = 1, data: bytes | None = None) -> None:
        ort = require("onnxruntime", "onnx")
        self.path = Path(path)
        self.threads = threads
        sess, ops = _open(path, threads, data)
        ins, outs = sess.get_inputs(), sess.get_outputs()
        if len(ins) != 1 or len(outs) != 1:
            raise ArtifactError(f"{path}: has {len(ins)} inputs and {len(outs)} outputs; expected 1 and 1")
        self._sess = sess
        self._version = ort.__version__
        self.input = _spec(ins[0], path)
        self.output = _spec(outs[0], path)
        self._in = ins[0].name
        self._outs = [outs[0].name]
        # InferenceSession.run re-validates every feed in Python (input names, OrtValue ownership, graph
        # capture) before calling the C++ session: several microseconds per call, on a model whose batch-1
        # run takes some tens of microseconds (34-65 us measured on a 2-core CI box). Our feed
        # is always one numpy array under the session's own input name, so call the C++ session directly
        # when it is there; otherwise the public method.
        inner = getattr(sess, "_sess", None)
        self._run = inner.run if inner is not None and callable(getattr(inner, "run", None)) else sess.run
        self._run_options = run_options(ort)
        fixed = self.input.shape[0]
        if fixed not in (-1, 1):
            raise ArtifactError(f"{path}: input batch dimension is fixed at {fixed}; expected dynamic or 1")
        # One image per call when the batch is fixed at 1, and for dynamic quantization: ORT's
        # DynamicQuantizeLinear picks one activation scale for the whole input tensor, so in a batched call
        # each image's probabilities would depend on the other images in the batch (up to ~0.02 here).
        # Per-image calls keep every prediction independent of its neighbours, at a cost in throughput.
        # Decided from the graph itself (its operator types, as the pre-session check parsed them), the
        # model's metadata, and -- through per_image() -- the manifest's quantization, so no single source of
        # facts can be missing.
        self._per_row = fixed == 1 or self.quantization() == "dynamic" or "DynamicQuantizeLinear" in ops

    def per_image(self) -> None:
        """Run a batch one image per call from now on (the Predictor asks for this for dynamic quantization)."""
        self._per_row = True

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        sess = open_session(path, threads)
        run, name, outs = sess.run, sess.get_inputs()[0].name, [sess.get_outputs()[0].name]
        return RawLoop(
            "onnxruntime InferenceSession.run(outputs, {input: x})", lambda batch: lambda x: run(outs, {name: x})[0]
        )

    def run(self, x: np.ndarray) -> np.ndarray:
        if not self._per_row or x.shape[0] == 1:
            return self._run(self._outs, {self._in: x}, self._run_options)[0]  # (output names, feed, run options)
        return np.concatenate(
            [self._run(self._outs, {self._in: x[i : i + 1]}, self._run_options)[0] for i in range(x.shape[0])]
        )

    def _meta(self, field: str, default: Any) -> Any:
        """A field of the model's metadata; ``default`` when ORT cannot decode it (its strings are decoded
        as UTF-8 on access, so one damaged byte raises UnicodeDecodeError)."""
        try:
            value = getattr(self._sess.get_modelmeta(), field)
        except (ValueError, RuntimeError):
            return default
        return default if value is None else value

    def quantization(self) -> str | None:
        meta = self._meta("custom_metadata_map", {})
        return meta.get("quantization") or None

    def details(self) -> dict[str, Any]:
        return {
            "onnxruntime": self._version,
            "providers": self._sess.get_providers(),
            "intra_op_num_threads": self.threads,
            "inter_op_num_threads": 1,
            # ORT's metadata has the producer's name but not its version ("version" is the model version,
            # INT64_MAX when unset: "onnx.quantize 9223372036854775807" was nonsense); tool versions are in the
            # manifest.
            "producer": self._meta("producer_name", "?") or "?",
            "metadata": dict(self._meta("custom_metadata_map", {})),
        }

    def close(self) -> None:
        self._sess = self._run = None
