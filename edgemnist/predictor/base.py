"""The interface every runtime backend implements, and the tensor facts it reports.

A backend is one runtime (LiteRT, ONNX Runtime, TFLite Micro, Keras) executing one artifact. It knows
nothing about pixels, preprocessing or quantization arithmetic: the ``Predictor`` turns images into the
model's own input dtype and turns the model's raw output into float32 probabilities, using the scale and
zero point the backend reports. To add a runtime, subclass ``Backend``:

.. code-block:: python

    class MyBackend(Backend):
        runtime = "My Runtime"

        def __init__(self, path: Path, threads: int = 1) -> None:
            self._model = load(path)                         # raise ArtifactError if unreadable
            self.input = TensorSpec("pixels", (-1, 784), "int8", scale=1 / 255, zero_point=-128)
            self.output = TensorSpec("probabilities", (-1, 10), "int8", scale=1 / 256, zero_point=-128)

        def run(self, x: np.ndarray) -> np.ndarray:
            return self._model(x)                            # (N, 10) array of self.output.dtype, a new array

and register ``"module:MyBackend"`` in ``edgemnist.formats.FORMATS``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgemnist.formats import Record

#: Tensor dtypes a backend may report (the manifest's ``TENSOR_DTYPES``).
DTYPES = ("float32", "int8", "uint8")


class TensorSpec(Record):
    """One input or output tensor as the runtime sees it (frozen; compared and hashed by value).

    ``shape`` uses -1 for a dynamic (batch) dimension. ``scale`` and ``zero_point`` are set for int8/uint8
    tensors (real = (q - zero_point) * scale) and None for float32 ones.
    """

    __slots__ = ("name", "shape", "dtype", "scale", "zero_point")
    __match_args__ = __slots__

    def __init__(
        self, name: str, shape: tuple[int, ...], dtype: str, scale: float | None = None, zero_point: int | None = None
    ) -> None:
        self._init(name, shape, dtype, scale, zero_point)

    @property
    def quantized(self) -> bool:
        return self.dtype != "float32"

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``tensor_info`` form."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": None if self.scale is None else float(self.scale),
            "zero_point": None if self.zero_point is None else int(self.zero_point),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSpec:
        return cls(
            str(d["name"]),
            tuple(int(v) for v in d["shape"]),
            str(d["dtype"]),
            None if d.get("scale") is None else float(d["scale"]),
            None if d.get("zero_point") is None else int(d["zero_point"]),
        )

    def mismatch(self, other: TensorSpec) -> list[str]:
        """What differs between two descriptions of the same tensor (names are not compared).

        Shapes must agree dimension by dimension, except that a dynamic dimension (-1) matches anything;
        scales agree within float32 rounding.
        """
        out = []
        if len(self.shape) != len(other.shape) or any(
            a != b and a != -1 and b != -1 for a, b in zip(self.shape, other.shape, strict=True)
        ):
            out.append(f"shape {list(self.shape)} vs {list(other.shape)}")
        if self.dtype != other.dtype:
            out.append(f"dtype {self.dtype} vs {other.dtype}")
        if self.quantized and other.dtype == self.dtype:
            if not _same_scale(self.scale, other.scale):
                out.append(f"scale {self.scale!r} vs {other.scale!r}")
            if self.zero_point != other.zero_point:
                out.append(f"zero_point {self.zero_point!r} vs {other.zero_point!r}")
        return out


def _same_scale(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=0.0)


class RawLoop(Record):
    """A runtime driven through its public API, without the Predictor. ``prepare(batch)`` does the untimed
    set-up (resize, allocate) and returns the call to time, which takes a model-dtype (batch, 784) array."""

    __slots__ = ("method", "prepare")
    __match_args__ = __slots__

    def __init__(self, method: str, prepare: Callable[[int], Callable[[np.ndarray], Any]]) -> None:
        self._init(method, prepare)


class NativeLoop(Record):
    """The artifact timed by native code, no Python in the loop: ``run(pixels, warmup)`` takes uint8 (N, 784)
    pixels and returns (nanoseconds per call, labels), each image timed alone after ``warmup`` calls."""

    __slots__ = ("method", "run")
    __match_args__ = __slots__

    def __init__(self, method: str, run: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]) -> None:
        self._init(method, run)


class Backend(ABC):
    """One runtime executing one artifact. Subclass it; see the module docstring for an example.

    Contract:

    - ``__init__(path, threads=1)`` loads the artifact at ``path`` (its suffix already matched the format)
      with ``threads`` intra-op threads where the runtime has such a setting. Raise
      ``edgemnist.errors.ArtifactError`` naming the path if it cannot be loaded, and
      ``MissingDependencyError`` (``edgemnist._deps.require``) if the runtime is not installed. Import the
      runtime lazily, inside ``__init__``: never import tensorflow or keras unless the format needs them.
    - ``input`` / ``output``: ``TensorSpec`` set by ``__init__``; shapes ``(-1 or N, 784)`` and
      ``(-1 or N, K)`` (K classes), dtype one of float32/int8/uint8, with scale and zero point for the integer ones.
    - ``run(x)``: ``x`` is a C-contiguous ``(N, 784)`` array already of ``input.dtype``, any N >= 1.
      Return the raw ``(N, K)`` output of ``output.dtype`` as an array the caller owns (copy out of
      runtime buffers). ``run`` must be safe to call from several threads at once: take a lock if the
      runtime is not thread-safe. Do not mutate ``x``.
    - With defaults (override what applies): ``details()`` (extra facts shown by ``edgemnist info``),
      ``quantization()`` (a best guess of the quantization mode when no manifest says it), ``per_image()``
      (run each image of a batch alone from now on), ``close()``, ``bind()`` (a zero-copy fast path for
      runtimes whose input and output buffers can be written and read in place) and the classmethod
      ``raw_loop(path, threads)`` (the runtime driven through its own public API, without the Predictor:
      the baseline ``edgemnist bench`` times) and ``native_loop(path)`` (the artifact timed by native code, with
      no Python in the loop: the C kernel's own driver).

    - ``reads_bytes``: True when ``__init__`` also takes ``data=`` (the artifact's bytes). With a manifest whose
      sha256 is checked, the Predictor then reads the file once, hashes those bytes and hands them over, so the
      bytes that were hashed are the bytes the runtime checks and runs, and the file is not read twice.

    These are all the Predictor and the benchmarks call; nothing is probed with ``hasattr``.
    """

    #: Human name of the runtime, e.g. "LiteRT".
    runtime: ClassVar[str] = "?"
    #: ``__init__(path, threads, data=bytes)`` is accepted (see the contract above).
    reads_bytes: ClassVar[bool] = False

    input: TensorSpec
    output: TensorSpec

    @abstractmethod
    def __init__(self, path: Path, threads: int = 1) -> None:
        """Load the artifact; set ``self.input`` and ``self.output``."""

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, 784) of input.dtype -> new (N, K) array of output.dtype. Thread-safe."""

    def bind(
        self,
        write: Callable[[np.ndarray, np.ndarray], Any],
        read: Callable[[np.ndarray], np.ndarray],
        as_dtype: Any = None,
    ) -> Callable[[np.ndarray], np.ndarray] | None:
        """Optional fast path; the default (None) means the Predictor uses ``run``.

        Return a thread-safe function ``f(x)`` that, under the runtime's lock, sizes the input for
        ``x.shape[0]``, calls ``write(x, buf)`` with the runtime's own (N, 784) input buffer viewed as
        ``as_dtype`` (default ``input.dtype``) so the Predictor converts straight into it, invokes, and
        returns ``read(out)`` of the runtime's output buffer (``read`` returns a new array).
        """
        return None

    def per_image(self) -> None:
        """From now on run a batch one image per call, so that no image's answer depends on its neighbours.

        The Predictor calls it for dynamically quantized models (an activation scale computed over the whole
        input tensor). The default does nothing: right for a backend whose batched results are already
        independent per image (or that always runs one image per invoke)."""
        return None

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop | None:
        """The runtime on ``path`` through its own public API, without the Predictor (``edgemnist bench``'s
        baseline); None when the backend has no such baseline."""
        return None

    @classmethod
    def native_loop(cls, path: Path) -> NativeLoop | None:
        """The artifact timed by native code (``NativeLoop``); None when the backend has none."""
        return None

    def details(self) -> dict[str, Any]:
        """Runtime facts for ``edgemnist info`` (versions, providers, thread settings...)."""
        return {}

    def quantization(self) -> str | None:
        """Best guess of the quantization mode from the model itself, or None if unknown."""
        return None

    def close(self) -> None:
        """Release the runtime's resources (optional)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.input.dtype}->{self.output.dtype}>"
