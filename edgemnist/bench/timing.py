"""How ``edgemnist bench`` times calls and summarizes them.

``measure`` times each call with ``time.perf_counter_ns``, runs several loops interleaved in blocks so
background load hits them alike, rotates through real inputs, and keeps every sample: ``Stats`` reports
nearest-rank percentiles (only those the run count supports), min/max/mean/std, and counts far outliers
without clipping them. ``machine_info`` records CPU, cores, OS, versions, thread environment and load.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Loops alternate in this many blocks per measurement.
BLOCKS = 10
#: A percentile is reported only with at least this many runs (else null).
PERCENTILES = (("p50", 50.0, 1), ("p90", 90.0, 10), ("p99", 99.0, 100), ("p999", 99.9, 1000))
#: Quantiles stored for the latency CDF of batch-1 measurements (the JSON keeps these, not every sample).
CDF_QUANTILES = tuple(sorted({i / 50 for i in range(51)} | {0.99, 0.995, 0.999}))
OUTLIER_RULE = "runs above Q3 + 3 IQR; kept in every statistic"


def rounded(x: float | None, digits: int = 6) -> float | None:
    """Round for the report (None stays None)."""
    return None if x is None else round(float(x), digits)


def ms_since(t0: int) -> float:
    """Milliseconds since ``t0``, a ``time.perf_counter_ns()`` reading."""
    return rounded((time.perf_counter_ns() - t0) / 1e6)


# ============================================================================== statistics


def nearest_rank(sorted_values: np.ndarray, q: float) -> float:
    """The q-th percentile by nearest rank: the smallest observed value with at least q % of values at or
    below it (rank ceil(q/100 * n), computed in integers so 99.9 % of 1000 is rank 999, not 1000)."""
    n = len(sorted_values)
    rank = max(1, -(-round(q * 1000) * n // 100_000))
    return float(sorted_values[min(rank, n) - 1])


@dataclass(frozen=True)
class Stats:
    """Per-call latency statistics in milliseconds."""

    runs: int
    min: float
    p50: float
    p90: float | None
    p99: float | None
    p999: float | None
    max: float
    mean: float
    std: float
    outliers: int

    @classmethod
    def of(cls, samples_ns: np.ndarray) -> Stats:
        ms = np.sort(np.asarray(samples_ns, dtype=np.float64)) / 1e6
        n = len(ms)
        if n == 0:
            raise ValueError("no samples")
        pct = {key: (nearest_rank(ms, q) if n >= need else None) for key, q, need in PERCENTILES}
        q1, q3 = nearest_rank(ms, 25.0), nearest_rank(ms, 75.0)
        outliers = int(np.count_nonzero(ms > q3 + 3 * (q3 - q1)))
        values = (
            ms[0],
            pct["p50"],
            pct["p90"],
            pct["p99"],
            pct["p999"],
            ms[-1],
            ms.mean(),
            ms.std(ddof=1) if n > 1 else 0.0,
        )
        return cls(n, *map(rounded, values), outliers)


@dataclass(frozen=True)
class Measurement:
    """One timed loop: ``runs`` calls of ``batch`` images each, after ``warmup`` calls."""

    subject: str  # "predictor", "raw", "keras.call", "keras.predict"
    method: str  # exactly what was timed
    batch: int
    warmup: int
    runs: int
    seconds: float  # sum of the timed calls
    images_per_s: float
    latency: Stats  # per call
    cdf: dict[str, tuple[float, ...]] | None  # {"q": quantiles, "ms": latencies}, batch-1 measurements only
    samples_ns: np.ndarray = field(repr=False, compare=False, default=None)

    @classmethod
    def of(cls, subject: str, method: str, batch: int, warmup: int, samples_ns: np.ndarray) -> Measurement:
        samples_ns = np.asarray(samples_ns, dtype=np.int64)
        total = int(samples_ns.sum())
        cdf = None
        if batch == 1:
            ms = np.sort(samples_ns) / 1e6
            cdf = {"q": CDF_QUANTILES, "ms": tuple(rounded(nearest_rank(ms, 100 * q)) for q in CDF_QUANTILES)}
        return cls(
            subject,
            method,
            batch,
            warmup,
            len(samples_ns),
            rounded(total / 1e9),
            rounded(batch * len(samples_ns) * 1e9 / max(total, 1), 2),
            Stats.of(samples_ns),
            cdf,
            samples_ns,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "method": self.method,
            "batch": self.batch,
            "warmup": self.warmup,
            "runs": self.runs,
            "seconds": self.seconds,
            "images_per_s": self.images_per_s,
            "latency_ms": dataclasses.asdict(self.latency),
            "cdf": None if self.cdf is None else {k: list(v) for k, v in self.cdf.items()},
        }


# ============================================================================== timing


@dataclass
class Loop:
    """What ``measure`` times: ``fn(x)`` for ``x`` rotating through ``inputs``, reported as ``subject``."""

    subject: str
    method: str
    fn: Callable[[Any], Any]
    inputs: Sequence[Any]


def measure(
    loops: Sequence[Loop], *, batch: int, warmup: int, min_time: float, min_runs: int, blocks: int = BLOCKS
) -> list[Measurement]:
    """Time every loop's ``fn`` call by call, interleaved in ``blocks`` blocks.

    Each loop first runs ``warmup`` untimed calls; then, block after block, each loop runs calls until the
    block has lasted ``min_time / blocks`` and has ``ceil(min_runs / blocks)`` calls. Every loop therefore
    gets at least ``min_time`` seconds and ``min_runs`` calls, and slow drifts in machine load reach all
    loops alike; the order alternates from block to block. Inputs rotate through ``inputs``.
    """
    for loop in loops:
        for k in range(warmup):
            loop.fn(loop.inputs[k % len(loop.inputs)])
    block_ns = int(min_time * 1e9 / blocks)
    block_runs = max(1, -(-min_runs // blocks))
    samples: list[list[int]] = [[] for _ in loops]
    cursor = [warmup] * len(loops)
    clock = time.perf_counter_ns
    order = list(range(len(loops)))
    for _ in range(blocks):
        for j in order:
            fn, inputs, out = loops[j].fn, loops[j].inputs, samples[j]
            n, i, k = len(inputs), cursor[j], 0
            start = clock()
            while True:
                x = inputs[i % n]
                t0 = clock()
                fn(x)
                t1 = clock()
                out.append(t1 - t0)
                i += 1
                k += 1
                if k >= block_runs and t1 - start >= block_ns:
                    break
            cursor[j] = i
        order.reverse()  # A B, B A, A B...: neither loop always runs first
    return [
        Measurement.of(loop.subject, loop.method, batch, warmup, np.array(s, dtype=np.int64))
        for loop, s in zip(loops, samples, strict=True)
    ]


def batches(x: np.ndarray, batch: int) -> list[np.ndarray]:
    """Consecutive C-contiguous views of ``batch`` images, covering the set once."""
    return [x[i : i + batch] for i in range(0, len(x) - batch + 1, batch)]


def warmup_calls(warmup: int, batch: int) -> int:
    """``warmup`` batch-1 calls, or the same number of images (at least 2 calls) at a larger batch."""
    return warmup if batch == 1 else max(2, -(-warmup // batch))
