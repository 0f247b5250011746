"""Conversions between caller pixels and a model's own tensors: quantize, dequantize, and the per-call pipelines.

Uint8 pixels into an int8 input with scale 1/255 and zero point -128 take an integer-only path (q = p - 128),
exact by construction; everything else is ``clip(round(x / scale) + zero_point)`` into the input and
``(q - zero_point) * scale`` out of the output, from the tensors' own scale and zero point.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from edgemnist import spec
from edgemnist.predictor.base import Backend, TensorSpec

_U8 = np.dtype(np.uint8)
_I8 = np.dtype(np.int8)
_F32 = np.dtype(np.float32)
_W = spec.INPUT_SIZE
# Operands shaped like one flattened image: a ufunc on equal shapes skips the scalar/broadcast set-up, which
# matters at batch 1 (they broadcast over larger batches).
_XOR_ROW = np.full((1, _W), 0x80, dtype=np.uint8)
_F255_ROW = np.full((1, _W), spec.PIXEL_MAX, dtype=np.float32)
#: The integer range of each quantized dtype.
QRANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def _quantizer(t: TensorSpec):
    """float32 (N, 784) in [0, 1] -> the tensor's integer dtype: clip(round(x / scale) + zero_point)."""
    scale, zp = np.float32(t.scale), np.float32(t.zero_point)
    lo, hi = QRANGE[t.dtype]
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
    return spec.to_unit_floats(x)  # exactly the essay's preprocessing: float32(p) / 255


def is_pixel_scale(t: TensorSpec) -> bool:
    """True when the tensor maps uint8 pixels exactly: scale 1/255 (within float32 rounding) and the
    zero point that puts pixel 0 at the bottom of the integer range (-128 for int8, 0 for uint8)."""
    if not t.quantized or t.scale is None:
        return False
    return math.isclose(t.scale, 1.0 / 255.0, rel_tol=2**-23) and t.zero_point == QRANGE[t.dtype][0]


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


def pipelines(t_in: TensorSpec, t_out: TensorSpec, backend: Backend):
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
