"""edgemnist train"""

from __future__ import annotations

import argparse

from edgemnist.allowlist import MAX_HIDDEN_LAYERS, MAX_WIDTH
from edgemnist.commands._common import add_data_dir, add_tolerance, new_dir_or_nothing, nonneg_int, positive_int
from edgemnist.model import TrainConfig

_DEFAULT = TrainConfig()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hidden",
        default=",".join(map(str, _DEFAULT.hidden)),
        metavar="W[,W...]",
        help=f"hidden Dense+ReLU widths, input side first: 512 (the essay's, default) or a comma list such as "
        f"256,64; 1 to {MAX_HIDDEN_LAYERS} layers of 1 to {MAX_WIDTH} units",
    )
    p.add_argument(
        "--epochs", type=positive_int, default=_DEFAULT.epochs, help=f"training epochs (default {_DEFAULT.epochs})"
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=_DEFAULT.batch_size,
        help=f"batch size (default {_DEFAULT.batch_size})",
    )
    p.add_argument(
        "--seed",
        type=nonneg_int,
        default=_DEFAULT.seed,
        help=f"random seed; same seed, same weights (default {_DEFAULT.seed})",
    )
    p.add_argument("--out", default="export", metavar="DIR", help="output folder (default export/)")
    add_data_dir(p)
    add_tolerance(p)


def run(args: argparse.Namespace) -> int:
    from edgemnist import allowlist, spec
    from edgemnist.data import load_dataset
    from edgemnist.errors import ConfigError
    from edgemnist.model import parse_hidden, train_and_save

    hidden = parse_hidden(args.hidden)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, hidden=hidden)
    spec.accuracy_floor(args.tolerance)  # validates the tolerance before any work
    with new_dir_or_nothing(args.out):  # a failed run (no data, interrupted) leaves no empty folder behind
        data = load_dataset(args.data_dir)
        why = allowlist.shape_problem(hidden, data.num_classes)
        if why:
            raise ConfigError(f"--hidden {args.hidden} on {data.name} ({data.num_classes} classes): {why}")
        trained = train_and_save(config, data, args.out, tolerance_pp=args.tolerance, verbose=2)
    result, floor = trained.result, trained.floor
    status = "PASS" if trained.passed else "FAIL"
    print(
        f"{trained.path}: test accuracy {result.test_accuracy:.2%} (loss {result.test_loss:.4f}), "
        f"trained in {result.seconds:.1f} s, sha256 {trained.manifest['artifact']['sha256'][:12]}"
    )
    print(f"network: {spec.describe_shape(trained.manifest['layers'])}, {data.num_classes} classes of {data.name}")
    reference = trained.manifest["verification"]["reference_accuracy"]
    gate = spec.gate_text(reference, args.tolerance, data.name)
    print(f"{status}: gate {floor:.2%} = {gate}" + ("" if data.is_mnist else " (its exports are held to it)"))
    if trained.passed:
        for line in next_steps(args.out, args.data_dir):
            print(line)
    return 0 if trained.passed else 1


def next_steps(out, data_dir: str | None) -> list[str]:
    """The export commands to run next: every format at once, or one of them (from the format registry)."""
    import shlex
    from pathlib import Path

    from edgemnist.commands._common import next_steps as lines
    from edgemnist.formats import EXPORT_FORMATS

    q = shlex.quote
    where = "" if Path(out) == Path("export") else f" --out {q(str(out))}"
    data = f" --data-dir {q(str(data_dir))}" if data_dir else ""
    first, *others = EXPORT_FORMATS
    return lines(
        [
            (f"edgemnist export --format all{where}{data}", "every format, each verified"),
            (f"edgemnist export --format {first}{where}{data}", f"one format (or {', '.join(others)})"),
        ]
    )
