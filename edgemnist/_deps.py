"""Lazy imports of optional dependencies, with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from edgemnist.errors import MissingDependencyError


def install_hint(extra: str) -> str:
    """How to install an extra, said the same way everywhere. edgemnist is not on a package index: a device
    installs the wheel built from the repository (``python -m pip wheel --no-deps -w dist .``), a checkout
    installs itself."""
    from edgemnist import __version__

    return (
        f"install the '{extra}' extra: pip install 'edgemnist-{__version__}-py3-none-any.whl[{extra}]' "
        f"(the wheel built in the repository with: python -m pip wheel --no-deps -w dist .), "
        f"or in a checkout: pip install -e '.[{extra}]'"
    )


def missing(need: str, extra: str, exc: BaseException | None = None) -> MissingDependencyError:
    """The error for an optional dependency that is not installed."""
    why = f" ({exc})" if exc is not None else ""
    return MissingDependencyError(f"{need} is not installed{why}; {install_hint(extra)}")


def require(module: str, extra: str, *, what: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError saying how to install ``extra`` (``install_hint``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing(what or module.split(".")[0], extra, exc) from exc


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
