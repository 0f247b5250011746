"""Property tests of the Predictor's input handling: any array gives probabilities or an InputError, and
anything else does too (hostile dtypes, shapes, NaN, infinities, subnormals, lists, None)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgemnist.errors import InputError
from edgemnist.predictor import Predictor

# Values that probe every edge: the pixel range's ends and beyond, NaN, infinities, signed zero, subnormals.
SPECIAL = [
    0,
    1,
    127,
    128,
    254,
    255,
    256,
    -1,
    -128,
    0.0,
    -0.0,
    0.5,
    1.0,
    1.0000001,
    1e-45,
    -1e-45,
    2.0,
    255.0,
    1e30,
    -1e30,
    float("nan"),
    float("inf"),
    float("-inf"),
]
DTYPES = [
    np.bool_,
    np.int8,
    np.uint8,
    np.int16,
    np.uint16,
    np.int32,
    np.int64,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.complex64,
    np.complex128,
    object,
    ">f4",
    "<f8",
    "U3",
    "S2",
]
SHAPES = st.one_of(
    st.sampled_from(
        [
            (),
            (0,),
            (784,),
            (28, 28),
            (0, 784),
            (0, 28, 28),
            (1, 1, 28, 28),
            (2, 784, 1),
            (783,),
            (28, 27),
            (1, 785),
            (784, 1),
        ]
    ),
    st.tuples(st.integers(1, 6), st.just(28), st.just(28)),
    st.tuples(st.integers(1, 6), st.just(784)),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
)


def _elements(dtype: np.dtype):
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.one_of(
            st.sampled_from([v for v in SPECIAL if isinstance(v, int) and info.min <= v <= info.max]),
            st.integers(int(info.min), int(info.max)),
        )
    if dtype.kind == "f":
        width = 8 * dtype.itemsize
        with np.errstate(all="ignore"):  # only the edge values this dtype holds exactly
            exact = [float(v) for v in SPECIAL if np.isnan(v) or float(np.asarray(v, dtype)) == float(v)]
        return st.one_of(
            st.sampled_from(exact),
            st.floats(0, 1, width=width),
            st.floats(allow_nan=True, allow_infinity=True, width=width),
        )
    if dtype.kind == "c":
        return st.complex_numbers(allow_nan=True, allow_infinity=True, width=8 * dtype.itemsize)
    if dtype.kind == "O":
        return st.one_of(st.integers(-300, 300), st.floats(), st.none(), st.text(max_size=2))
    return hnp.from_dtype(dtype)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(SHAPES)
    if int(np.prod(shape)) > 6 * 784:
        shape = (1, 784)
    fill = draw(st.sampled_from(["random", "constant"]))
    if fill == "constant":  # whole images of one edge value (cheap to draw, hits every range check)
        value = draw(_elements(dtype))
        arr = np.empty(shape, dtype=dtype)
        with np.errstate(all="ignore"):
            arr[...] = value
        return arr
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype), fill=_elements(dtype)))


@st.composite
def not_arrays(draw):
    return draw(
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(),
            st.text(max_size=5),
            st.binary(max_size=5),
            st.lists(st.floats(0, 1), max_size=784),
            st.lists(st.lists(st.integers(0, 255), max_size=30), max_size=30),
            st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
            st.just([[0.0] * 784, [0.0] * 783]),
            st.just([[0.5] * 784]),
            st.just(((0,) * 784,)),
        )
    )


def _expected_n(x: np.ndarray) -> int | None:
    """How many images the predictor must accept ``x`` as, or None if it must refuse it."""
    shape = x.shape
    if x.dtype == np.uint8 or x.dtype.kind == "f" and x.dtype.itemsize in (4, 8):
        if shape in ((28, 28), (784,)):
            n = 1
        elif len(shape) == 3 and shape[1:] == (28, 28) and shape[0] or len(shape) == 2 and shape[1] == 784 and shape[0]:
            n = shape[0]
        else:
            return None
        if x.dtype.kind == "f":  # checked as float32, the model's own precision
            with np.errstate(all="ignore"):
                y = x.astype(np.float32)
                if not (np.isfinite(y).all() and y.min() >= 0 and y.max() <= 1):
                    return None
        return n
    return None


# int8 outputs move in steps of 1/256 (TFLite) or 1/255 (ONNX QDQ): 10 classes can miss 1 by up to ~10 half-steps.
SUM_ATOL = {"float32": 1e-3, "int8": 0.02}
PROPERTY_CASES = [
    ("tflite", "int8", "int8"),
    ("onnx", "float32", "float"),
    ("tflite", "float32", "float"),
    ("onnx", "int8", "float"),
]


def _check_answer(p: Predictor, x, mode: str) -> None:
    expect = _expected_n(x) if isinstance(x, np.ndarray) else None
    try:
        proba = p.predict_proba(x)
    except InputError as exc:
        assert isinstance(exc, ValueError)
        assert expect is None, f"refused a valid input {x.dtype} {x.shape}: {exc}"
        assert str(exc) and "\n" not in str(exc)
        return
    if isinstance(x, np.ndarray):
        assert expect is not None, f"accepted {x.dtype} {x.shape}"
        assert proba.shape == (expect, 10)
    assert proba.dtype == np.float32 and proba.ndim == 2 and proba.shape[1] == 10
    assert np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1
    assert np.abs(proba.sum(axis=1, dtype=np.float64) - 1).max() <= SUM_ATOL[mode]


@pytest.fixture(scope="module")
def property_predictors(export_artifact):
    return {c: Predictor.load(export_artifact(*c).path) for c in PROPERTY_CASES}


@pytest.mark.parametrize("case", PROPERTY_CASES, ids=lambda c: "-".join(c))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(x=arrays())
def test_any_array_gives_probabilities_or_input_error(case, x, property_predictors):
    _check_answer(property_predictors[case], x, case[1])


@pytest.mark.parametrize("case", PROPERTY_CASES[:2], ids=lambda c: "-".join(c))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=not_arrays())
def test_anything_else_gives_probabilities_or_input_error(case, x, property_predictors):
    _check_answer(property_predictors[case], x, case[1])
