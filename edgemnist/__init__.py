"""edgemnist: train, export, verify and run the classic Keras MNIST MLP on edge devices."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Predictor", "load_mnist", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import edgemnist` costs nothing and pulls in no runtime.
    if name == "Predictor":
        from edgemnist.predictor import Predictor

        return Predictor
    if name == "load_mnist":
        from edgemnist.data import load_mnist

        return load_mnist
    raise AttributeError(f"module 'edgemnist' has no attribute {name!r}")
