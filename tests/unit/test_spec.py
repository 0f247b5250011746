"""The spec constants are what the input and output checks assume."""

from __future__ import annotations

from edgemnist import spec


def test_spec_constants_are_what_the_checks_assume():
    assert spec.INPUT_SIZE == 784 and spec.NUM_CLASSES == 10
