"""One small API over every runtime: ``Predictor.load(path).predict(images)``.

.. code-block:: python

    from edgemnist.predictor import Predictor

    p = Predictor.load("export/model.int8.tflite", threads=1)
    p.predict_proba(pixels)        # uint8 (28, 28) / (N, 28, 28) / (N, 784), or floats in [0, 1] -> (N, 10) float32
    labels, confidences = p.predict(pixels)

The backend is chosen by the file suffix (``edgemnist.formats``). The manifest beside the artifact is read
when present: its sha256 is checked, a failed verification refuses to load, and its tensor facts must agree
with what the runtime reports. The Predictor applies the essay's preprocessing (x / 255, flatten) and the
int8 quantize/dequantize from the tensors' scale and zero point, so callers only ever see float32
probabilities. Uint8 pixels into an int8 input with scale 1/255 and zero point -128 take an integer-only
path (q = p - 128), exact by construction.

Importing this module, loading a ``.tflite`` or ``.onnx`` artifact and predicting never import TensorFlow,
Keras, Pillow, matplotlib or rich.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError, EdgemnistError, GateError, InputError, ManifestError
from edgemnist.predictor.base import Backend, TensorSpec

__all__ = ["Backend", "Prediction", "Predictor", "TensorSpec"]

log = logging.getLogger(__name__)

_U8 = np.dtype(np.uint8)
_I8 = np.dtype(np.int8)
_F32 = np.dtype(np.float32)
_U32 = np.dtype(np.uint32)
_ONE_BITS = np.uint32(np.array(1.0, dtype=np.float32).view(np.uint32))
_W = spec.INPUT_SIZE
_ROW = (1, _W)
# Operands shaped like one flattened image: a ufunc on equal shapes skips the scalar/broadcast set-up, which
# matters at batch 1 (they broadcast over larger batches).
_XOR_ROW = np.full((1, _W), 0x80, dtype=np.uint8)
_F255_ROW = np.full((1, _W), 255.0, dtype=np.float32)
_HW = spec.IMAGE_SHAPE
_SHAPES = "(28, 28), (N, 28, 28) or (N, 784)"
_QRANGE = {"int8": (-128, 127), "uint8": (0, 255)}
#: No artifact of this model comes near this size; a larger file is refused before it is hashed or parsed.
MAX_ARTIFACT_BYTES = 256 << 20
#: A model no manifest vouches for must map a blank and an all-white image to probabilities that sum to 1
#: within this (int8 outputs move in steps of 1/256) before it is handed out.
SELF_TEST_ATOL = 0.05


class Prediction(NamedTuple):
    """Labels (int64, (N,)) and the probability of each label (float32, (N,))."""

    labels: np.ndarray
    confidences: np.ndarray


# --------------------------------------------------------------------------- input validation


def _bad_dtype(dtype: np.dtype) -> InputError:
    hint = ""
    if dtype.kind in "iu":
        hint = "; if these are 0-255 pixels, convert them with .astype(np.uint8)"
    elif dtype.kind == "f":
        hint = "; convert with .astype(np.float32)"
    return InputError(f"expected uint8 pixels (0-255) or float32/float64 values in [0, 1]; got dtype {dtype}{hint}")


def as_batch(images: Any) -> np.ndarray:
    """Validate ``images`` and return a C-contiguous (N, 784) array: uint8 pixels, or float32 in [0, 1].

    Raises InputError saying what was expected for anything else.
    """
    if not isinstance(images, np.ndarray):
        if images is None or isinstance(images, (str, bytes, bytearray, dict, set, int, float, complex)):
            raise InputError(f"expected a numpy array of images shaped {_SHAPES}; got {type(images).__name__}")
        try:
            images = np.asarray(images)
        except Exception as exc:  # ragged nested lists and arbitrary objects
            raise InputError(f"expected a numpy array of images shaped {_SHAPES}; got {type(images).__name__} "
                             f"that does not convert to an array ({exc})") from None
    dtype = images.dtype
    if dtype != _U8 and not (dtype.kind == "f" and dtype.itemsize in (4, 8)):
        raise _bad_dtype(dtype)
    shape = images.shape
    if shape == _HW or shape == (_W,):
        images = images.reshape(1, _W)
    elif len(shape) == 3 and shape[1:] == _HW or len(shape) == 2 and shape[1] == _W:
        if shape[0] == 0:
            raise InputError(f"expected at least one image; got an empty batch of shape {shape}")
        images = images.reshape(shape[0], _W)
    else:
        raise InputError(f"expected images shaped {_SHAPES}; got shape {shape}")
    if dtype == _U8:
        return np.ascontiguousarray(images)
    if dtype.itemsize == 8:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below; no warning
            x = np.ascontiguousarray(images, dtype=_F32)
    else:
        x = np.ascontiguousarray(images, dtype=_F32)
    # One pass: as unsigned 32-bit patterns, every float32 in [+0, 1] is <= the bits of 1.0, while negatives,
    # values > 1, infinities and NaNs are all larger. (-0.0 is too; the exact check below lets it through.)
    if x.view(_U32).max() > _ONE_BITS:
        lo, hi = x.min(), x.max()
        if not (lo >= 0.0 and hi <= 1.0):  # NaN fails both comparisons
            if not np.isfinite(x).all():
                raise InputError("expected finite pixel values in [0, 1]; got NaN or infinity")
            raise InputError(f"expected float pixel values in [0, 1] (pixels / 255); got values from "
                             f"{float(lo):g} to {float(hi):g}; pass uint8 pixels, or divide by 255")
    return x


# --------------------------------------------------------------------------- conversions


def _quantizer(t: TensorSpec):
    """float32 (N, 784) in [0, 1] -> the tensor's integer dtype: clip(round(x / scale) + zero_point)."""
    scale, zp = np.float32(t.scale), np.float32(t.zero_point)
    lo, hi = _QRANGE[t.dtype]
    dt = t.np_dtype
    # Inputs are validated to [0, 1], so the codes span [zp, round(1 / scale) + zp]; clip only if that
    # leaves the integer range.
    needs_clip = not (lo <= t.zero_point and np.rint(np.float32(1.0) / scale) + zp <= hi)

    def codes(x: np.ndarray) -> np.ndarray:  # integral float32 values
        q = np.divide(x, scale)
        q += zp  # an integer: round(x / scale) + zp == round(x / scale + zp)
        np.rint(q, out=q)
        if needs_clip:
            np.clip(q, lo, hi, out=q)
        return q

    def quantize(x: np.ndarray) -> np.ndarray:
        return codes(x).astype(dt)

    def write(x: np.ndarray, buf: np.ndarray) -> None:
        np.copyto(buf, codes(x), casting="unsafe")  # exact: the values are integers in range

    return quantize, write


def _pixels_to_float(x: np.ndarray) -> np.ndarray:
    y = x.astype(_F32)
    np.divide(y, _F255_ROW, out=y)  # exactly the essay's preprocessing: float32(p) / 255
    return y


def is_pixel_scale(t: TensorSpec) -> bool:
    """True when the tensor maps uint8 pixels exactly: scale 1/255 (within float32 rounding) and the
    zero point that puts pixel 0 at the bottom of the integer range (-128 for int8, 0 for uint8)."""
    if not t.quantized or t.scale is None:
        return False
    return math.isclose(t.scale, 1.0 / 255.0, rel_tol=2**-23) and t.zero_point == _QRANGE[t.dtype][0]


def _output_converter(t: TensorSpec):
    """The model's raw output -> float32 probabilities (None when it already is float32)."""
    if not t.quantized:
        return None
    # A 256-entry table of (q - zero_point) * scale: one gather per call. Laid out by the codes' bytes, so an
    # int8 code's negative value indexes from the end (-1 -> entry 255), exactly like its uint8 view would.
    codes = np.arange(256, dtype=np.uint8).view(t.np_dtype).astype(np.float64)
    return ((codes - t.zero_point) * t.scale).astype(_F32).take


def _copy_into(x: np.ndarray, buf: np.ndarray) -> None:
    np.copyto(buf, x)


def _converters(t: TensorSpec):
    """How each kind of caller input becomes the model's input, as (convert, write, write_dtype) for uint8
    pixels and for floats in [0, 1]: ``convert(x)`` returns a new array; ``write(x, buf)`` fills a runtime
    buffer viewed as ``write_dtype``."""
    if not t.quantized:  # float32 model input: the essay's x / 255
        def write_pixels(x, buf):
            np.divide(x, _F255_ROW, buf)  # float32(p) / 255, the same bits as _pixels_to_float

        return (_pixels_to_float, write_pixels, None), (None, _copy_into, None)
    quantize, write_quantized = _quantizer(t)
    floats = (quantize, write_quantized, None)
    if is_pixel_scale(t) and t.dtype == "int8":
        xor, row, i8 = np.bitwise_xor, _XOR_ROW, _I8

        def xor_int8(x):
            return xor(x, row).view(i8)  # p ^ 0x80 read as int8 is p - 128: integer-only, exact

        # write(x, buf) = bitwise_xor(row, x, buf) into the int8 buffer viewed as uint8; xor commutes, and a
        # partial is a C call (no Python frame on the hot path).
        return (xor_int8, functools.partial(xor, row), _U8), floats
    if is_pixel_scale(t):  # uint8 input, zero point 0, scale 1/255: the pixels are already the codes
        return (None, _copy_into, None), floats

    def pixels_quantized(x):
        return quantize(_pixels_to_float(x))

    def write_pixels_quantized(x, buf):
        write_quantized(_pixels_to_float(x), buf)

    return (pixels_quantized, write_pixels_quantized, None), floats


def _pipelines(t_in: TensorSpec, t_out: TensorSpec, backend: Backend):
    """(N, 784) uint8 pixels -> probabilities, and (N, 784) float32 in [0, 1] -> probabilities.

    Each is one Python function around the runtime call: at batch 1 every call and temporary array shows
    in the latency. A backend that can ``bind`` gets the conversion written straight into its input buffer.
    """
    post = _output_converter(t_out)
    read = post if post is not None else np.array  # a bound runtime hands over its own buffer: copy it
    run = backend.run
    out = []
    for convert, write, write_dtype in _converters(t_in):
        fast = backend.bind(write, read, write_dtype)
        if fast is not None:
            out.append(fast)
        elif convert is None and post is None:
            out.append(run)
        elif convert is None:
            out.append(lambda x, post=post: post(run(x)))
        elif post is None:
            out.append(lambda x, convert=convert: run(convert(x)))
        else:
            out.append(lambda x, convert=convert, post=post: post(run(convert(x))))
    return tuple(out)


# --------------------------------------------------------------------------- the predictor


def _mode_from_name(path: Path, modes: tuple[str, ...]) -> str | None:
    m = re.match(r"^[^.]+\.([A-Za-z0-9_]+)(?:-[A-Za-z0-9_]+)?\.[^.]+$", path.name)  # model.<mode>[-<io>io].<suffix>
    return m.group(1) if m and m.group(1) in modes else None


class Predictor:
    """Run an artifact on images. Build it with ``Predictor.load(path)``; it is safe to share across threads."""

    def __init__(self, backend: Backend, *, path: str | Path | None = None, format: str | None = None,
                 manifest: dict[str, Any] | None = None, quantization: str | None = None, threads: int = 1) -> None:
        self.backend = backend
        self.path = None if path is None else Path(path)
        self.format = format
        self.manifest = manifest
        self.threads = threads
        origin = str(self.path) if self.path is not None else type(backend).__name__
        m_origin = f"{origin}.json" if self.path is not None else "manifest"
        self.input = _reconcile(backend.input, manifest and manifest.get("input"), "input", _W, origin, m_origin)
        self.output = _reconcile(backend.output, manifest and manifest.get("output"), "output",
                                 spec.NUM_CLASSES, origin, m_origin)
        if manifest is not None:
            quantization = manifest["quantization"]
        self.quantization = quantization or backend.quantization() or "unknown"
        if self.quantization == "dynamic":
            # A dynamically quantized activation's scale is computed over the whole input tensor, so a batched
            # call would make each image's answer depend on its neighbours: backends that can, go per image.
            per_image = getattr(backend, "run_per_image", None)
            if per_image is not None:
                per_image()
        self._from_u8, self._from_float = _pipelines(self.input, self.output, backend)

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: str | Path, threads: int = 1, *, check_hash: bool = True,
             allow_unverified: bool = False, self_test: bool | None = None,
             public_key: Any = None) -> Predictor:
        """Load ``path`` with the runtime its suffix names.

        Raises ArtifactError (missing, empty, oversized, malformed or unreadable file, unknown suffix),
        ManifestError (bad manifest, or one that contradicts the model), ArtifactChangedError (sha256 differs
        from the manifest's, unless ``check_hash=False``), GateError (the manifest records a failed
        verification, unless ``allow_unverified=True``) and MissingDependencyError (runtime not installed).

        ``self_test``: run a blank and an all-white image and refuse (ArtifactError) a model whose answer is
        not finite probabilities summing to 1. The default (None) does so exactly when no manifest's sha256
        vouched for the bytes (no manifest, or ``check_hash=False``).

        ``public_key`` (a PEM file, PEM bytes or a ``cryptography`` EC public key): refuse (SignatureError)
        unless ``<path>.sig`` is a valid signature by that key over exactly this artifact, its manifest and
        its companions as they are now, checked before any runtime (or the manifest parser) sees the bytes.
        Only such a signature lets the micro backend trust a header's arena without a child-process run.
        """
        from edgemnist.formats import format_for_path
        from edgemnist.manifest import check_sha256, manifest_path, read_manifest

        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        path = Path(path)
        fmt = format_for_path(path)
        if not path.exists():
            raise ArtifactError(f"{path}: no such model file")
        if not path.is_file():
            raise ArtifactError(f"{path}: not a file; expected a {fmt.suffix} model")
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise ArtifactError(f"{path}: {size} bytes, larger than any {fmt.name} model of this network "
                                f"({MAX_ARTIFACT_BYTES} bytes at most); refusing to load it")
        if public_key is not None:
            from edgemnist.signing import verify

            verify(path, public_key)
        manifest = read_manifest(path, required=public_key is not None)
        if manifest is not None:
            if manifest["format"] != fmt.name:
                raise ManifestError(f"{manifest_path(path)}: says format {manifest['format']!r} but "
                                    f"{path.name} is a {fmt.name} file")
            if check_hash:
                check_sha256(path, manifest)
            ver = manifest.get("verification")
            if ver is not None and not ver["passed"] and not allow_unverified:
                from edgemnist.safetext import safe

                reasons = safe("; ".join(str(r) for r in ver.get("reasons") or []) or "no reason recorded")
                raise GateError(f"{path}: failed verification at export ({reasons}); refusing to load it "
                                f"(pass allow_unverified=True / --allow-unverified to use it anyway)")
        else:
            log.debug("%s: no manifest; taking tensor facts from the model", path)
        if size == 0:
            raise ArtifactError(f"{path}: not a loadable {fmt.name} model: the file is empty (0 bytes)")
        backend_cls = fmt.load_backend()
        try:
            backend = backend_cls(path, threads=threads)
        except (EdgemnistError, MemoryError):
            raise
        except Exception as exc:  # whatever a runtime's wrapper raises on a malformed file
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise ArtifactError(f"{path}: {fmt.runtime} cannot load it ({type(exc).__name__}: {first})") from None
        try:
            quant = None if manifest else (backend.quantization() or _mode_from_name(path, fmt.mode_names))
            predictor = cls(backend, path=path, format=fmt.name, manifest=manifest, quantization=quant,
                            threads=threads)
            if self_test if self_test is not None else (manifest is None or not check_hash):
                predictor._self_test()
        except BaseException:
            backend.close()
            raise
        return predictor

    def _self_test(self) -> None:
        """Refuse a model that does not map a blank and an all-white image to probabilities."""
        probe = np.zeros((2, _W), dtype=_U8)
        probe[1] = 255
        proba = self.predict_proba(probe)
        sums = proba.sum(axis=1, dtype=np.float64) if proba.shape == (2, spec.NUM_CLASSES) else None
        if sums is None or not (np.isfinite(proba).all() and proba.min() >= 0.0 and proba.max() <= 1.0 + 1e-6
                                and np.abs(sums - 1.0).max() <= SELF_TEST_ATOL):
            raise ArtifactError(f"{self.path}: the model does not answer a blank and a white test image with "
                                f"probabilities (got {np.array2string(proba, precision=3, threshold=20)}); "
                                f"the file is corrupt or not an MNIST classifier")

    # ----------------------------------------------------------------- inference

    def predict_proba(self, images: Any) -> np.ndarray:
        """Probabilities (N, 10) float32 for uint8 pixels or floats in [0, 1] shaped (28, 28)/(N, 28, 28)/(N, 784).

        Raises InputError for anything else, and ArtifactError if the runtime itself fails.
        """
        try:
            if type(images) is np.ndarray and images.dtype is _U8 and images.flags.c_contiguous:
                shape = images.shape
                if shape == _HW:
                    return self._from_u8(images.reshape(_ROW))
                if len(shape) == 2 and shape[1] == _W and shape[0]:
                    return self._from_u8(images)
                if len(shape) == 3 and shape[1:] == _HW and shape[0]:
                    return self._from_u8(images.reshape(shape[0], _W))
            x = as_batch(images)
            return self._from_u8(x) if x.dtype == _U8 else self._from_float(x)
        except (EdgemnistError, MemoryError):
            raise
        except Exception as exc:  # the native runtime failed (free: try costs nothing until it raises)
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise ArtifactError(f"{self.path or self.backend.runtime}: the {self.backend.runtime} runtime failed "
                                f"({type(exc).__name__}: {first})") from None

    def predict(self, images: Any) -> Prediction:
        """Most probable label and its probability for each image."""
        proba = self.predict_proba(images)
        labels = proba.argmax(axis=1)
        return Prediction(labels.astype(np.int64, copy=False), proba[np.arange(len(labels)), labels])

    __call__ = predict

    # ----------------------------------------------------------------- misc

    def describe(self) -> dict[str, Any]:
        """What the runtime reports: tensors, quantization, runtime details."""
        return {
            "path": None if self.path is None else str(self.path),
            "format": self.format,
            "quantization": self.quantization,
            "runtime": self.backend.runtime,
            "threads": self.threads,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "integer_pixel_path": is_pixel_scale(self.input),
            **({"bytes": self.path.stat().st_size} if self.path is not None and self.path.is_file() else {}),
            "details": self.backend.details(),
        }

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Predictor({str(self.path)!r}, format={self.format!r}, quantization={self.quantization!r}, "
                f"runtime={self.backend.runtime!r}, input={self.input.dtype}, output={self.output.dtype})")


def _reconcile(model: TensorSpec, declared: dict | None, which: str, width: int, origin: str,
               m_origin: str) -> TensorSpec:
    """The tensor's facts: the model's own, checked against the manifest's when there is one."""
    if declared is not None:
        m = TensorSpec.from_dict(declared)
        if model.quantized and model.scale is None and model.dtype == m.dtype:
            # The runtime does not expose I/O quantization (ONNX Runtime): take scale/zero point from the manifest.
            model = TensorSpec(model.name, model.shape, model.dtype, m.scale, m.zero_point)
        diffs = m.mismatch(model)
        if diffs:
            raise ManifestError(f"{m_origin}: the manifest's {which} tensor contradicts the model "
                                f"(manifest vs model: {'; '.join(diffs)})")
    if len(model.shape) != 2 or model.shape[1] != width:
        raise ArtifactError(f"{origin}: {which} tensor has shape {list(model.shape)}; expected [N, {width}]")
    if model.quantized:
        lo, hi = _QRANGE[model.dtype]
        if model.scale is None or model.zero_point is None:
            raise ArtifactError(f"{origin}: {which} tensor is {model.dtype} but its scale and zero point are unknown "
                                f"(the runtime does not report them and there is no manifest)")
        if not (math.isfinite(model.scale) and model.scale > 0 and lo <= model.zero_point <= hi):
            raise ArtifactError(f"{origin}: {which} tensor has invalid quantization scale={model.scale} "
                                f"zero_point={model.zero_point}")
    return model
