"""edgemnist train"""

from __future__ import annotations

import argparse

from edgemnist.commands._common import add_data_dir, add_tolerance, nonneg_int, positive_int, writable_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=positive_int, default=5, help="training epochs (default 5)")
    p.add_argument("--batch-size", type=positive_int, default=128, help="batch size (default 128)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed; same seed, same weights (default 0)")
    p.add_argument("--out", default="export", metavar="DIR", help="output folder (default export/)")
    add_data_dir(p)
    add_tolerance(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgemnist import spec
    from edgemnist.data import load_mnist
    from edgemnist.fileio import sha256_file
    from edgemnist.manifest import write_manifest
    from edgemnist.model import TrainConfig, report, save_model, train

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    floor = spec.accuracy_floor(args.tolerance)
    writable_dir(args.out)
    data = load_mnist(args.data_dir)
    result = train(config, data, verbose=2)
    passed = spec.passes(result.test_accuracy, floor)
    # A model that fails the gate never replaces a good model.keras: it lands beside it for inspection.
    model_path = save_model(result.model, Path(args.out) / ("model.keras" if passed else "model.rejected.keras"))
    write_manifest(model_path, report(result, model_path, data_source=data.source, passed=passed, floor=floor))
    status = "PASS" if passed else "FAIL"
    print(f"{model_path}  test accuracy {result.test_accuracy:.2%} (loss {result.test_loss:.4f})  "
          f"{status}: gate {floor:.2%} = {spec.REFERENCE_ACCURACY:.2%} - {args.tolerance} pp  "
          f"trained in {result.seconds:.1f} s  sha256 {sha256_file(model_path)[:12]}")
    return 0 if passed else 1
