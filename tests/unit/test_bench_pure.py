"""The bench's pure parts: config validation and defaults, timing statistics, and the raw loops' input conversion."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgemnist.bench.artifact import to_model_input
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.timing import CDF_QUANTILES, Loop, Stats, measure
from edgemnist.cli import build_parser, main
from edgemnist.errors import ConfigError
from edgemnist.predictor.base import TensorSpec


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_sizes": ()},
        {"batch_sizes": (0,)},
        {"batch_sizes": (1, 10001)},
        {"batch_sizes": 32},
        {"batch_sizes": ("8",)},
        {"threads": 0},
        {"threads": True},
        {"warmup": -1},
        {"min_time": 0},
        {"min_time": float("nan")},
        {"min_time": float("inf")},
        {"min_time": "1"},
        {"min_runs": 0},
        {"keras_min_runs": 0},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ConfigError):
        BenchConfig(**kwargs)


def test_config_normalizes_and_is_the_clis_single_source_of_defaults(capsys):
    assert BenchConfig(batch_sizes=(256, 1, 32, 32)).batch_sizes == (1, 32, 256)
    assert BenchConfig(batch_sizes=(np.int64(8),), threads=np.int32(2)).batch_sizes == (8,)
    defaults = BenchConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.threads = 2
    args = build_parser().parse_args(["bench", "m.tflite"])
    for key in ("batch_sizes", "threads", "warmup", "min_time", "min_runs"):
        assert getattr(args, key) == getattr(defaults, key)
    assert args.no_accuracy is (not defaults.accuracy)
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"default {defaults.warmup})" in help_text and f"default {defaults.min_time:g})" in help_text


def test_stats_nearest_rank_and_outliers():
    ns = np.arange(1, 1001, dtype=np.int64) * 1000  # 1 µs .. 1000 µs
    s = Stats.of(ns[::-1])
    assert s.runs == 1000 and s.min == 0.001 and s.max == 1.0
    assert (s.p50, s.p90, s.p99, s.p999) == (0.5, 0.9, 0.99, 0.999)  # observed values, nearest rank
    assert s.mean == pytest.approx(0.5005) and s.outliers == 0
    few = Stats.of(np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 1000], dtype=np.int64) * 1000)
    assert few.p90 is not None and few.p99 is None and few.p999 is None  # not enough runs to support them
    assert few.outliers == 1 and few.max == 1.0  # the outlier is counted and kept
    assert Stats.of(np.array([5000])).std == 0.0


def test_measure_warms_up_rotates_interleaves_and_counts():
    seen = {"a": [], "b": []}
    loops = [
        Loop("a", "record a", seen["a"].append, list(range(7))),
        Loop("b", "record b", seen["b"].append, list(range(100, 103))),
    ]
    out = measure(loops, batch=1, warmup=4, min_time=0.005, min_runs=50, blocks=5)
    assert [m.subject for m in out] == ["a", "b"]
    for m, key, inputs in ((out[0], "a", range(7)), (out[1], "b", range(100, 103))):
        assert m.runs >= 50 and m.warmup == 4 and len(seen[key]) == m.runs + 4
        assert m.seconds > 0 and m.images_per_s > 0
        assert set(seen[key]) == set(inputs)  # every input used: rotated, not one array repeated
        assert len(m.samples_ns) == m.runs and m.cdf["q"] == CDF_QUANTILES
        assert list(m.cdf["ms"]) == sorted(m.cdf["ms"])


def test_to_model_input_matches_the_documented_conversions():
    px = np.array([[0, 1, 127, 128, 254, 255]], dtype=np.uint8)
    f = to_model_input(px, TensorSpec("x", (-1, 6), "float32"))
    assert f.dtype == np.float32 and np.array_equal(f, px.astype(np.float32) / np.float32(255))
    q = to_model_input(px, TensorSpec("x", (-1, 6), "int8", 1 / 255, -128))
    assert q.dtype == np.int8 and np.array_equal(q, px.astype(np.int16) - 128)
    other = to_model_input(px, TensorSpec("x", (-1, 6), "int8", 3 / 255, 5))  # no rounding ties
    assert other.dtype == np.int8 and other.tolist() == [[5, 5, 47, 48, 90, 90]]
