"""What ``edgemnist bench`` measures and for how long: the one source of its defaults and limits.

Imports nothing heavy (no numpy), so ``edgemnist bench --help`` shows these defaults cheaply.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass
from typing import Any

from edgemnist.errors import ConfigError

MAX_BATCH = 10_000
MAX_SECONDS = 3600.0


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    try:
        n = operator.index(value)  # ints and numpy integers; not floats, strings or bools
    except TypeError:
        n = None
    if isinstance(value, bool) or n is None or not lo <= n <= hi:
        raise ConfigError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return n


@dataclass(frozen=True)
class BenchConfig:
    """``warmup`` is in batch-1 calls; a batch-``b`` measurement warms up with the same number of images
    (``ceil(warmup / b)`` calls, at least 2). Each measurement runs for at least ``min_time`` seconds and
    ``min_runs`` images (at least 3 calls). Keras' own loops are slow (``model.predict`` costs tens of ms per
    call), so they get ``keras_min_runs`` calls as their floor instead.
    """

    batch_sizes: tuple[int, ...] = (1, 32, 256)
    threads: int = 1
    warmup: int = 50
    min_time: float = 0.5
    min_runs: int = 100
    keras_min_runs: int = 10
    accuracy: bool = True  # measure on the test set; False takes it from the verified manifest
    raw: bool = True  # measure the raw runtime loop too

    def __post_init__(self) -> None:
        sizes = self.batch_sizes
        if isinstance(sizes, (int, str)) or not sizes:
            raise ConfigError(f"batch sizes must be a non-empty list of positive integers, got {sizes!r}")
        object.__setattr__(self, "batch_sizes", tuple(sorted({_int(b, "a batch size", 1, MAX_BATCH) for b in sizes})))
        _int(self.threads, "threads", 1, 1024)
        _int(self.warmup, "warmup", 0, 10**6)
        _int(self.min_runs, "min runs", 1, 10**7)
        _int(self.keras_min_runs, "keras min runs", 1, 10**7)
        t = self.min_time
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and 0 < t <= MAX_SECONDS):
            raise ConfigError(f"min time must be a number of seconds in (0, {MAX_SECONDS:g}], got {t!r}")
        object.__setattr__(self, "min_time", float(t))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["batch_sizes"] = list(self.batch_sizes)
        return d
