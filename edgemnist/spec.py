"""The model's contract, shared by trainer, exporters, predictor and benchmarks.

The input is fixed: 28x28 greyscale pixels, flattened to 784 floats in [0, 1]. Everything behind it is the
artifact's own: the hidden widths are configuration (``edgemnist.model.TrainConfig.hidden``) and the class count
comes from the training labels; code reads both from the model or its manifest, never from here.
"""

from __future__ import annotations

IMAGE_SHAPE = (28, 28)
INPUT_SIZE = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
#: MNIST's class count (digits 0-9) and the default model's output width; other datasets bring their own.
NUM_CLASSES = 10
#: An IDX label is one unsigned byte: at most 256 classes; a classifier needs at least 2.
MIN_CLASSES, MAX_CLASSES = 2, 256
#: The essay's network: one hidden layer of 512 units.
DEFAULT_HIDDEN = (512,)
INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"

#: Test accuracy of the original write-up (784 -> Dense 512 relu -> Dense 10 softmax, 5 epochs): the gate's
#: reference on MNIST. On any other dataset the reference is that dataset's own float model's test accuracy.
REFERENCE_ACCURACY = 0.9788
#: Default tolerance of every accuracy gate, in percentage points below its reference.
DEFAULT_TOLERANCE_PP = 0.5

PREPROCESSING = {
    "input": "uint8 grayscale 28x28, white digit on black (MNIST)",
    "scale": "x / 255.0",
    "flatten": INPUT_SIZE,
    "dtype": "float32",
    "range": [0.0, 1.0],
}


def labels(num_classes: int) -> list[int]:
    """The class labels of a model with ``num_classes`` outputs: 0 .. num_classes - 1 (an IDX label byte)."""
    return list(range(num_classes))


def describe_shape(widths) -> str:
    """``784 -> 512 -> 10``: a network's widths, input to classes."""
    return " -> ".join(str(int(w)) for w in widths)


def accuracy_floor(tolerance_pp: float = DEFAULT_TOLERANCE_PP, reference: float = REFERENCE_ACCURACY) -> float:
    """The lowest accuracy (a fraction) that passes a gate ``tolerance_pp`` percentage points below
    ``reference`` (the essay's 97.88 % on MNIST; a dataset's own float model's accuracy on any other)."""
    from edgemnist.errors import ConfigError

    if not (0.0 <= tolerance_pp <= 100.0):
        raise ConfigError(f"tolerance must be between 0 and 100 percentage points, got {tolerance_pp}")
    return reference - tolerance_pp / 100.0


def gate_text(reference: float, tolerance_pp: float, dataset: str | None = None) -> str:
    """How a gate is said everywhere: ``97.88% - 0.5 pp`` (MNIST) or ``fashion-mnist float model 85.10% - 0.5 pp``."""
    whose = "" if dataset in (None, "MNIST") else f"{dataset} float model "
    return f"{whose}{reference:.2%} - {tolerance_pp:g} pp"


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
#: scale 1/256 rounds each class by at most 1/512: 0.05 covers the 10 MNIST digits; ``prob_sum_atol`` widens it).
PROB_SUM_ATOL = 0.05


def prob_sum_atol(num_classes: int) -> float:
    """How far an int8 output's probabilities may sum from 1: each of ``num_classes`` rounds by at most 1/512."""
    return max(PROB_SUM_ATOL, num_classes / 512)
