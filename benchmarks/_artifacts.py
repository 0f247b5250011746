"""The artifacts every benchmark script measures: one per format x mode x I/O of the registry, plus the
Keras source model, trained and exported with edgemnist's own functions when missing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARTIFACTS = REPO / "benchmarks" / "artifacts"
DEFAULT_RESULTS = REPO / "benchmarks" / "results"
KERAS_NAME = "model.keras"


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--artifacts",
        type=Path,
        default=DEFAULT_ARTIFACTS,
        metavar="DIR",
        help="folder with model.keras and the exported artifacts; missing ones are trained/exported "
        f"there (default {DEFAULT_ARTIFACTS.relative_to(REPO)})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_RESULTS,
        metavar="DIR",
        help=f"where the results go (default {DEFAULT_RESULTS.relative_to(REPO)})",
    )
    p.add_argument("--data-dir", metavar="DIR", help="MNIST folder (default: $EDGEMNIST_DATA_DIR or the cache)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def expected() -> list:
    """Every ExportConfig of the registry whose exporter is importable here."""
    from edgemnist.export import all_configs

    configs, skipped = all_configs()
    for note in skipped:
        log(f"skipping {note}")
    return configs


def ensure_artifacts(folder: Path, data_dir: str | None = None) -> tuple[Path, list[Path]]:
    """(model.keras, [artifact paths in registry order]), training and exporting what is missing."""
    from edgemnist.data import load_mnist
    from edgemnist.errors import MissingDependencyError
    from edgemnist.export import RejectedError, export_prepared, prepare
    from edgemnist.model import TrainConfig, train_and_save

    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if folder.resolve() == DEFAULT_ARTIFACTS.resolve() and not ignore.exists():
        ignore.write_text("# benchmark inputs, rebuilt by benchmarks/*.py\n*\n")
    model_path = folder / KERAS_NAME
    configs = expected()
    missing = [c for c in configs if not (folder / c.artifact_name).is_file()]
    data = None
    if not model_path.is_file():
        log(f"training {model_path} (the default 5-epoch run)")
        data = load_mnist(data_dir)
        trained = train_and_save(TrainConfig(), data, folder)
        if not trained.passed:
            raise SystemExit(f"{trained.path}: the default training run failed its gate; nothing to benchmark")
        missing = configs  # artifacts of another model would not match it
    if missing:
        source = prepare(model_path, data, data_dir=data_dir)
        for config in missing:
            log(f"exporting {config.label} -> {folder / config.artifact_name}")
            try:
                export_prepared(source, config, folder)
            except (RejectedError, MissingDependencyError) as exc:
                log(f"  not benchmarked: {exc}")
    paths = [folder / c.artifact_name for c in configs if (folder / c.artifact_name).is_file()]
    return model_path, paths
