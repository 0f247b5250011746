"""The essay's network, any Dense+ReLU stack like it, and their reproducible trainer.

784 floats in [0, 1] -> Dense 512 relu -> Dense 10 softmax; adam; categorical crossentropy on one-hot
labels; accuracy. ``TrainConfig.hidden`` sets the hidden widths (``(512,)``, the essay's; ``(256, 64)``, two
layers) and the dataset's labels set the class count. The same seed on CPU gives identical weights
(``keras.utils.set_random_seed`` plus TensorFlow op determinism).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

from edgemnist import allowlist, spec
from edgemnist._deps import keras as _keras
from edgemnist._deps import tensorflow as _tf
from edgemnist.errors import ArtifactError, ConfigError, first_line
from edgemnist.fileio import atomic_path, remove_stale_temps, sha256_file

#: A .keras archive of this network holds 3 small members (~5 MB); refuse archives that would inflate to more.
MAX_KERAS_MEMBERS = 64
MAX_KERAS_UNCOMPRESSED = 256 << 20


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"512"`` -> ``(512,)``, ``"256,64"`` -> ``(256, 64)``: the hidden widths, input side first; ConfigError
    (saying what is expected) for anything else, including widths and depths beyond ``allowlist``'s limits."""
    expected = (
        f"expected hidden widths as a comma list of integers from 1 to {allowlist.MAX_WIDTH}, at most "
        f"{allowlist.MAX_HIDDEN_LAYERS} of them (e.g. 512 or 256,64)"
    )
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{expected}, got {text!r}")
    parts = text.split(",")
    if not all(p.strip().isdigit() and p.strip().isascii() for p in parts):
        raise ConfigError(f"{expected}, got {text!r}")
    hidden = tuple(int(p) for p in parts)
    check_hidden(hidden)
    return hidden


def check_hidden(hidden: tuple[int, ...]) -> None:
    """ConfigError unless ``hidden`` is a tuple of widths this toolkit builds (``allowlist.shape_problem``)."""
    if not isinstance(hidden, tuple):
        raise ConfigError(f"hidden widths must be a tuple of integers, got {hidden!r}")
    why = allowlist.shape_problem(hidden, spec.MIN_CLASSES)
    if why:
        raise ConfigError(f"hidden widths {','.join(map(str, hidden))}: {why}")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 128
    seed: int = 0
    learning_rate: float = 0.001  # adam's default, as in the essay
    hidden: tuple[int, ...] = spec.DEFAULT_HIDDEN  # hidden Dense+ReLU widths, input side first

    def __post_init__(self) -> None:
        check_hidden(self.hidden)
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


def one_hot(labels: np.ndarray, num_classes: int = spec.NUM_CLASSES) -> np.ndarray:
    import numpy as np  # not at module level: the CLI reads TrainConfig's defaults for --help

    return np.eye(num_classes, dtype=np.float32)[labels]


def build_model(
    seed: int | None = None, hidden: tuple[int, ...] = spec.DEFAULT_HIDDEN, num_classes: int = spec.NUM_CLASSES
):
    """784 -> Dense+ReLU per width of ``hidden`` -> Dense softmax over ``num_classes``. The essay's single hidden
    layer keeps its name ``hidden``; deeper stacks name theirs ``hidden1``, ``hidden2``, ..."""
    why = allowlist.shape_problem(hidden, num_classes)
    if why:
        raise ConfigError(f"cannot build the network: {why}")
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(spec.INPUT_SIZE,), name=spec.INPUT_NAME)
    x = inputs
    for i, width in enumerate(hidden, start=1):
        x = keras.layers.Dense(width, activation="relu", name="hidden" if len(hidden) == 1 else f"hidden{i}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=spec.OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="edgemnist_mlp")


def widths(model) -> tuple[int, ...]:
    """(784, hidden..., classes) of a Dense stack, from its layers' kernels."""
    dense = [layer for layer in model.layers if layer.weights]
    if not dense:
        return (spec.INPUT_SIZE,)
    return (int(dense[0].weights[0].shape[0]), *(int(layer.weights[0].shape[-1]) for layer in dense))


def train(config: TrainConfig, data, *, verbose: int = 2) -> TrainResult:
    """Train ``config``'s network on ``data`` (an ``edgemnist.data.Dataset``) and score it on the test set."""
    keras = _keras()
    tf = _tf()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    classes = data.num_classes
    model = build_model(hidden=config.hidden, num_classes=classes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    x_train, y_train = preprocess(data.train_images), one_hot(data.train_labels, classes)
    x_test, y_test = preprocess(data.test_images), one_hot(data.test_labels, classes)
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
    if (
        shape_in != (None, spec.INPUT_SIZE)
        or len(shape_out) != 2
        or not isinstance(shape_out[1], int)
        or not spec.MIN_CLASSES <= shape_out[1] <= spec.MAX_CLASSES
    ):
        raise ArtifactError(
            f"{path}: model maps {shape_in} -> {shape_out}; "
            f"expected (None, {spec.INPUT_SIZE}) -> (None, K) with {spec.MIN_CLASSES} <= K <= {spec.MAX_CLASSES}"
        )
    return model


def report(
    result: TrainResult,
    model_path: Path,
    *,
    data_source: str,
    passed: bool,
    floor: float,
    dataset: dict | None = None,
    reference: float = spec.REFERENCE_ACCURACY,
) -> dict:
    """The training report / manifest written beside model.keras. ``dataset``: the data's record
    (``edgemnist.data.Dataset.record``); ``reference``: the accuracy the gate ``floor`` is measured from."""
    from edgemnist import manifest as mf

    shape = widths(result.model)
    return {
        "format": "keras",
        "quantization": "float32",
        "io": "float",
        "artifact": {"file": model_path.name, "sha256": sha256_file(model_path), "bytes": model_path.stat().st_size},
        "source": None,
        "input": mf.tensor_info(spec.INPUT_NAME, (-1, spec.INPUT_SIZE), "float32"),
        "output": mf.tensor_info(spec.OUTPUT_NAME, (-1, shape[-1]), "float32"),
        "preprocessing": spec.PREPROCESSING,
        "labels": spec.labels(shape[-1]),
        "layers": list(shape),
        "dataset": dataset,
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
            "reference_accuracy": reference,
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
    ``model.rejected.keras`` beside it, for inspection. The manifest is written beside the model.

    On MNIST the gate is the essay's 97.88 % less ``tolerance_pp``. Any other dataset has no published figure: its
    float model is the reference its exports are held to, so training records it and passes."""
    from edgemnist.manifest import write_manifest

    spec.accuracy_floor(tolerance_pp)  # range check before any work
    result = train(config, data, verbose=verbose)
    reference = spec.REFERENCE_ACCURACY if data.is_mnist else result.test_accuracy
    floor = spec.accuracy_floor(tolerance_pp, reference)
    passed = spec.passes(result.test_accuracy, floor)
    path = save_model(result.model, Path(out_dir) / ("model.keras" if passed else "model.rejected.keras"))
    record = data.record()
    manifest = report(
        result, path, data_source=data.source, passed=passed, floor=floor, dataset=record, reference=reference
    )
    write_manifest(path, manifest)
    return Trained(path, result, manifest, passed, floor)
