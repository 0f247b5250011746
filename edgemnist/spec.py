"""The model's contract, shared by trainer, exporters, predictor and benchmarks."""

from __future__ import annotations

IMAGE_SHAPE = (28, 28)
INPUT_SIZE = 784
NUM_CLASSES = 10
LABELS = tuple(range(NUM_CLASSES))
INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"

#: Test accuracy of the original write-up (784 -> Dense 512 relu -> Dense 10 softmax, 5 epochs).
REFERENCE_ACCURACY = 0.9788
#: Default tolerance of every accuracy gate, in percentage points below REFERENCE_ACCURACY.
DEFAULT_TOLERANCE_PP = 0.5

PREPROCESSING = {
    "input": "uint8 grayscale 28x28, white digit on black (MNIST)",
    "scale": "x / 255.0",
    "flatten": INPUT_SIZE,
    "dtype": "float32",
    "range": [0.0, 1.0],
}


def accuracy_floor(tolerance_pp: float = DEFAULT_TOLERANCE_PP) -> float:
    """The lowest accuracy (a fraction) that passes a gate with ``tolerance_pp`` percentage points."""
    from edgemnist.errors import ConfigError

    if not (0.0 <= tolerance_pp <= 100.0):
        raise ConfigError(f"tolerance must be between 0 and 100 percentage points, got {tolerance_pp}")
    return REFERENCE_ACCURACY - tolerance_pp / 100.0


def passes(accuracy: float, floor: float) -> bool:
    """Whether ``accuracy`` clears the gate ``floor``. Compared to 1e-9, below one image in 10,000 (1e-4), so
    float rounding of the floor (0.9788 - 0.0005 = 0.97830000000000001) cannot fail exactly 9,783 correct."""
    return accuracy >= floor - 1e-9


#: The one divisor of the essay's preprocessing (``PREPROCESSING["scale"]``).
PIXEL_MAX = 255.0


def to_unit_floats(images):
    """uint8 pixels (N, 28, 28) or (N, 784) -> float32 (N, 784) (each image flattened) in [0, 1]: exactly
    ``float32(p) / 255``, the
    essay's preprocessing. Everything that feeds a model float pixels uses this (the Predictor's in-place
    variant writes the same bits)."""
    import numpy as np

    return images.reshape(len(images), -1).astype(np.float32) / np.float32(PIXEL_MAX)


#: Probabilities must sum to 1 within this, in verification and in a loaded model's self-test (an int8 output of
#: scale 1/256 rounds each of the 10 classes by at most 1/512).
PROB_SUM_ATOL = 0.05
