"""The essay's network and its reproducible trainer.

784 floats in [0, 1] -> Dense 512 relu -> Dense 10 softmax; adam; categorical crossentropy on one-hot
labels; accuracy. The same seed on CPU gives identical weights (``keras.utils.set_random_seed`` plus
TensorFlow op determinism).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

from edgemnist import spec
from edgemnist._deps import keras as _keras
from edgemnist._deps import tensorflow as _tf
from edgemnist.errors import ArtifactError, ConfigError, first_line
from edgemnist.fileio import atomic_path, remove_stale_temps, sha256_file

#: A .keras archive of this network holds 3 small members (~5 MB); refuse archives that would inflate to more.
MAX_KERAS_MEMBERS = 64
MAX_KERAS_UNCOMPRESSED = 256 << 20


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 128
    seed: int = 0
    learning_rate: float = 0.001  # adam's default, as in the essay

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 1000):
            raise ConfigError(f"epochs must be an integer from 1 to 1000, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 60000):
            raise ConfigError(f"batch size must be an integer from 1 to 60000, got {self.batch_size!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {self.seed!r}")
        if not (0 < self.learning_rate < 1):
            raise ConfigError(f"learning rate must be in (0, 1), got {self.learning_rate!r}")


@dataclass(frozen=True)
class TrainResult:
    model: Any = field(repr=False)
    config: TrainConfig
    history: dict[str, list[float]]
    test_loss: float
    test_accuracy: float
    seconds: float
    n_test: int = 10000


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 784) in [0, 1], exactly as the essay: pixels / 255."""
    return spec.to_unit_floats(images)


def one_hot(labels: np.ndarray) -> np.ndarray:
    import numpy as np  # not at module level: the CLI reads TrainConfig's defaults for --help

    return np.eye(spec.NUM_CLASSES, dtype=np.float32)[labels]


def build_model(seed: int | None = None):
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(spec.INPUT_SIZE,), name=spec.INPUT_NAME)
    x = keras.layers.Dense(512, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(spec.NUM_CLASSES, activation="softmax", name=spec.OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="edgemnist_mlp")


def train(config: TrainConfig, data, *, verbose: int = 2) -> TrainResult:
    """Train the essay's network on ``data`` (an ``edgemnist.data.Mnist``) and score it on the test set."""
    keras = _keras()
    tf = _tf()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    x_train, y_train = preprocess(data.train_images), one_hot(data.train_labels)
    x_test, y_test = preprocess(data.test_images), one_hot(data.test_labels)
    start = time.perf_counter()
    hist = model.fit(
        x_train, y_train, epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=verbose
    )
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    return TrainResult(model, config, history, float(test_loss), float(test_acc), seconds, len(y_test))


def save_model(model, path: str | Path) -> Path:
    """Save atomically as a .keras archive."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ConfigError(f"{path}: a Keras model file must end in .keras")
    if path.parent.is_dir():  # what a killed earlier run left: hidden temporaries of a dead process only
        remove_stale_temps(path.parent, [path.name, path.name + ".json"])
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def check_keras_archive(path: str | Path) -> None:
    """Raise ArtifactError unless ``path`` looks like a .keras archive of a sane size: a readable zip with a
    config.json that inflates to at most MAX_KERAS_UNCOMPRESSED bytes. Imports nothing heavy."""
    import zipfile

    path = Path(path)
    if path.suffix != ".keras":
        raise ArtifactError(f"{path}: expected a .keras model file")
    if not path.is_file():
        raise ArtifactError(f"{path}: no such model file; train one with: edgemnist train")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path}: not a Keras archive (a .keras file is a zip)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArtifactError(f"{path}: not a readable Keras archive ({exc})") from None
    inflated = sum(m.file_size for m in members)
    if len(members) > MAX_KERAS_MEMBERS or inflated > MAX_KERAS_UNCOMPRESSED:
        raise ArtifactError(
            f"{path}: {len(members)} members inflating to {inflated} bytes; not a Keras archive "
            f"of this network (at most {MAX_KERAS_MEMBERS} members, {MAX_KERAS_UNCOMPRESSED} bytes)"
        )
    if "config.json" not in {m.filename for m in members}:
        raise ArtifactError(f"{path}: a zip without config.json; not a Keras archive")


def load_model(path: str | Path):
    """Load a .keras archive with ``safe_mode=True`` (no lambda/pickle deserialization).

    The archive's structure is checked first (``check_keras_archive``), so a file that is not one fails fast,
    before TensorFlow is even imported.
    """
    path = Path(path)
    check_keras_archive(path)
    keras = _keras()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load Keras model ({type(exc).__name__}: {first_line(exc)})") from None
    shape_in = tuple(model.input_shape)
    shape_out = tuple(model.output_shape)
    if shape_in != (None, spec.INPUT_SIZE) or shape_out != (None, spec.NUM_CLASSES):
        raise ArtifactError(
            f"{path}: model maps {shape_in} -> {shape_out}; "
            f"expected (None, {spec.INPUT_SIZE}) -> (None, {spec.NUM_CLASSES})"
        )
    return model


def report(result: TrainResult, model_path: Path, *, data_source: str, passed: bool, floor: float) -> dict:
    """The training report / manifest written beside model.keras."""
    from edgemnist import manifest as mf

    return {
        "format": "keras",
        "quantization": "float32",
        "io": "float",
        "artifact": {"file": model_path.name, "sha256": sha256_file(model_path), "bytes": model_path.stat().st_size},
        "source": None,
        "input": mf.tensor_info(spec.INPUT_NAME, (-1, spec.INPUT_SIZE), "float32"),
        "output": mf.tensor_info(spec.OUTPUT_NAME, (-1, spec.NUM_CLASSES), "float32"),
        "preprocessing": spec.PREPROCESSING,
        "labels": list(spec.LABELS),
        "training": {
            "config": asdict(result.config),
            "history": result.history,
            "seconds": round(result.seconds, 3),
            "data": data_source,
        },
        "tools": mf.tool_versions(),
        "created": mf.now_iso(),
        "verification": {
            "passed": passed,
            "n": result.n_test,
            "accuracy": result.test_accuracy,
            "loss": result.test_loss,
            "threshold": floor,
            "reference_accuracy": spec.REFERENCE_ACCURACY,
            "reasons": [] if passed else [f"test accuracy {result.test_accuracy:.4%} < {floor:.4%}"],
        },
    }


@dataclass(frozen=True)
class Trained:
    """What ``train_and_save`` did: the saved model, its training result and the gate it was held to."""

    path: Path
    result: TrainResult
    manifest: dict
    passed: bool
    floor: float


def train_and_save(
    config: TrainConfig, data, out_dir: str | Path, *, tolerance_pp: float = spec.DEFAULT_TOLERANCE_PP, verbose: int = 0
) -> Trained:
    """Train, gate (``spec.passes``), save and record: the one implementation the CLI, the benchmarks and the
    tests use. A model that fails the gate never replaces a good ``model.keras``: it lands as
    ``model.rejected.keras`` beside it, for inspection. The manifest is written beside the model."""
    from edgemnist.manifest import write_manifest

    floor = spec.accuracy_floor(tolerance_pp)
    result = train(config, data, verbose=verbose)
    passed = spec.passes(result.test_accuracy, floor)
    path = save_model(result.model, Path(out_dir) / ("model.keras" if passed else "model.rejected.keras"))
    manifest = report(result, path, data_source=data.source, passed=passed, floor=floor)
    write_manifest(path, manifest)
    return Trained(path, result, manifest, passed, floor)
