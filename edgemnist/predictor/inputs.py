"""Input validation: what the Predictor accepts as images, and the InputError for anything else."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import InputError

_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)
_U32 = np.dtype(np.uint32)
_ONE_BITS = np.uint32(np.array(1.0, dtype=np.float32).view(np.uint32))
_W = spec.INPUT_SIZE
_HW = spec.IMAGE_SHAPE
SHAPES = "(28, 28), (N, 28, 28) or (N, 784)"


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
            raise InputError(f"expected a numpy array of images shaped {SHAPES}; got {type(images).__name__}")
        try:
            images = np.asarray(images)
        except Exception as exc:  # ragged nested lists and arbitrary objects
            raise InputError(
                f"expected a numpy array of images shaped {SHAPES}; got {type(images).__name__} "
                f"that does not convert to an array ({exc})"
            ) from None
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
        raise InputError(f"expected images shaped {SHAPES}; got shape {shape}")
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
            raise InputError(
                f"expected float pixel values in [0, 1] (pixels / 255); got values from "
                f"{float(lo):g} to {float(hi):g}; pass uint8 pixels, or divide by 255"
            )
    return x
