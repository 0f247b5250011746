"""Lazy imports of optional dependencies, with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from edgemnist.errors import MissingDependencyError


def require(module: str, extra: str, *, what: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError naming ``pip install 'edgemnist[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        need = what or module.split(".")[0]
        raise MissingDependencyError(
            f"{need} is not installed ({exc}); install it with: pip install 'edgemnist[{extra}]'"
        ) from exc


def quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up log noise. Call before the first tensorflow/keras import."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def keras() -> ModuleType:
    """Import keras (tensorflow backend) quietly, or say to install the train extra."""
    quiet_tensorflow()
    require("tensorflow", "train")
    mod = require("keras", "train")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    return mod


def tensorflow() -> ModuleType:
    quiet_tensorflow()
    mod = require("tensorflow", "train")
    mod.get_logger().setLevel("ERROR")
    return mod
