"""Image files (PNG, JPEG, ...) -> MNIST-style 28x28 uint8 digits.

A file is read as grayscale (``read_gray``: EXIF rotation applied, large photos downscaled, transparency
composited by ``edgemnist.normalize.flatten_alpha``) and then normalized the MNIST way by
``edgemnist.normalize.normalize_digit`` (bounding box fitted to 20x20, centre of mass at the centre of 28x28,
dark ink on light paper inverted unless ``invert`` says otherwise).

Pillow is needed for files only (the ``images`` extra, ``edgemnist._deps.install_hint``), imported on first use. Its
decompression-bomb limits stay on.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from edgemnist._deps import require
from edgemnist.errors import InputError
from edgemnist.normalize import flatten_alpha, normalize_digit

__all__ = ["MAX_SIDE", "load_digit", "load_digits", "read_gray"]

#: Larger images are first downscaled to this longest side (speed; a digit needs far fewer pixels).
MAX_SIDE = 1024


def _pil():
    return require("PIL.Image", "images", what="Pillow")


def load_digit(path: str | os.PathLike[str], *, invert: bool | None = None) -> np.ndarray:
    """Read an image file and return it as an MNIST-style uint8 (28, 28) digit, white on black.

    Raises InputError naming the file when it is missing, not an image, corrupt, too large for Pillow's
    decompression-bomb limit, or blank; MissingDependencyError when Pillow is not installed.
    """
    gray = read_gray(path)
    try:
        return normalize_digit(gray, invert=invert)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def load_digits(paths, *, invert: bool | None = None) -> np.ndarray:
    """Several files -> uint8 (N, 28, 28)."""
    return np.stack([load_digit(p, invert=invert) for p in paths])


def read_gray(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as float64 grayscale in [0, 255] (EXIF rotation applied, transparency over white)."""
    Image = _pil()
    from PIL import ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file" if not path.exists() else f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; a digit never needs that many pixels.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode a big photo at reduced size, in grayscale
                img.load()
                img = ImageOps.exif_transpose(img)
                if max(img.size) > MAX_SIDE:
                    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
                return _to_gray(img)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image Pillow can read; expected a PNG or JPEG file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{path}: refused, too many pixels ({exc})") from None
    except MemoryError:
        raise InputError(f"{path}: refused, too large to decode in memory") from None
    except Exception as exc:  # truncated or corrupt data: OSError, SyntaxError, EOFError, struct.error, ...
        raise InputError(f"{path}: corrupt or truncated image ({type(exc).__name__}: {str(exc)[:200]})") from None


def _to_gray(img) -> np.ndarray:
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(img, dtype=np.float64)
        return a / 257.0 if a.max(initial=0) > 255 else a  # 16-bit -> 0-255
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        gray = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64)
        return flatten_alpha(gray, np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0)
    return np.asarray(img.convert("L"), dtype=np.float64)
