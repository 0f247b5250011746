"""Model shape as configuration: parsing --hidden, the limits, TrainConfig, and the CLI's refusals (no TensorFlow)."""

from __future__ import annotations

import pytest

from edgemnist import allowlist, spec
from edgemnist.errors import ConfigError
from edgemnist.model import TrainConfig, parse_hidden


@pytest.mark.parametrize(
    "text,hidden",
    [("512", (512,)), ("256,64", (256, 64)), (" 128 , 32 ", (128, 32)), ("1", (1,)), ("1,1,1,1,1,1,1,1", (1,) * 8)],
)
def test_hidden_widths_parse(text, hidden):
    assert parse_hidden(text) == hidden
    assert TrainConfig(hidden=hidden).hidden == hidden


@pytest.mark.parametrize(
    "text,words",
    [
        ("0", "width 0; expected an integer from 1 to 1024"),
        ("-1", "comma list of integers"),
        ("256,,64", "comma list of integers"),
        ("256,", "comma list of integers"),
        ("", "comma list of integers"),
        ("12a", "comma list of integers"),
        ("1.5", "comma list of integers"),
        ("٣", "comma list of integers"),  # a digit, but not an ASCII one
        ("1,2,3,4,5,6,7,8,9", "9 hidden layers; expected 1 to 8"),
        ("1025", "width 1025"),
        ("1024,1024", "at most 960,000"),
    ],
)
def test_bad_hidden_widths_are_one_line_config_errors(text, words):
    with pytest.raises(ConfigError, match=words) as info:
        parse_hidden(text)
    assert "\n" not in str(info.value)


def test_train_config_checks_its_hidden_tuple():
    assert TrainConfig().hidden == spec.DEFAULT_HIDDEN == (512,)
    for bad in ((), (0,), (512, -3), [512], (True,), (1,) * 9):
        with pytest.raises(ConfigError):
            TrainConfig(hidden=bad)
    with pytest.raises(AttributeError):  # frozen
        TrainConfig().hidden = (3,)


def test_limits_are_stated_and_the_essays_network_is_inside_them():
    assert allowlist.shape_problem((512,), 10) is None
    assert allowlist.parameters((784, 512, 10)) == 784 * 512 + 512 + 512 * 10 + 10
    assert allowlist.shape_problem((512,), 1) == "1 classes; expected 2 to 256"
    assert allowlist.shape_problem((512,), 257) == "257 classes; expected 2 to 256"
    assert allowlist.shape_problem((64,), 256) is None
    assert allowlist.shape_problem((1024,), 10) is None  # the widest single layer fits every format's bounds


def test_gate_text_quotes_the_essay_only_for_mnist():
    assert spec.gate_text(0.9788, 0.5, "MNIST") == "97.88% - 0.5 pp"
    assert spec.gate_text(0.851, 0.5, "fashion-mnist") == "fashion-mnist float model 85.10% - 0.5 pp"
    assert spec.accuracy_floor(0.5, 0.851) == pytest.approx(0.846)
    assert spec.describe_shape((784, 256, 64, 10)) == "784 -> 256 -> 64 -> 10"


@pytest.mark.parametrize(
    "value,words",
    [
        ("0", "width 0"),
        ("256,,64", "comma list of integers"),
        ("1,2,3,4,5,6,7,8,9", "9 hidden layers"),
        ("-5", "comma list of integers"),
    ],
)
def test_train_refuses_bad_hidden_in_one_line_before_writing_anything(value, words, tmp_path, capsys):
    from edgemnist.cli import main

    out = tmp_path / "out"
    assert main(["train", f"--hidden={value}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err
    assert not out.exists()


def test_train_help_states_the_hidden_flag_and_its_limits(capsys):
    from edgemnist.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--hidden W[,W...]" in text and "256,64" in text and "1 to 8 layers of 1 to 1024 units" in text


def _manifest(**extra):
    from edgemnist.manifest import SCHEMA, tensor_info

    return {
        "schema": SCHEMA,
        "format": "tflite",
        "quantization": "int8",
        "artifact": {"file": "model.int8.tflite", "sha256": "a" * 64},
        "input": tensor_info("pixels", (-1, 784), "float32"),
        "output": tensor_info("probabilities", (-1, 10), "float32"),
        **extra,
    }


@pytest.mark.parametrize(
    "extra,words",
    [
        ({"layers": [784]}, "layers must be"),
        ({"layers": [784, 0, 10]}, "layers must be"),
        ({"dataset": {"name": 3, "mnist": False}}, "dataset must be"),
        ({"dataset": {"name": "x", "mnist": False, "gate_reference": 1.5}}, "gate_reference"),
        ({"dataset": {"name": "x", "mnist": False, "classes": True}}, "dataset.classes"),
        ({"dataset": {"name": "x", "mnist": False, "sha256": {"test_labels": "nope"}}}, "dataset.sha256"),
    ],
)
def test_a_manifest_with_bad_shape_or_dataset_facts_is_refused(extra, words):
    from edgemnist.errors import ManifestError
    from edgemnist.manifest import validate

    validate(_manifest(layers=[784, 256, 64, 10]), origin="m.json")
    with pytest.raises(ManifestError, match=words):
        validate(_manifest(**extra), origin="m.json")


def test_the_gate_reference_is_the_essays_on_mnist_and_the_float_models_elsewhere():
    from edgemnist.evaluate import gate_reference

    assert gate_reference(None) == (spec.REFERENCE_ACCURACY, "MNIST")
    assert gate_reference({"dataset": {"name": "MNIST", "mnist": True}}) == (spec.REFERENCE_ACCURACY, "MNIST")
    other = {"dataset": {"name": "fashion-mnist", "mnist": False, "gate_reference": 0.8727}}
    assert gate_reference(other) == (0.8727, "fashion-mnist")
    hostile = {"dataset": {"name": "x\x1b[2J", "mnist": False, "gate_reference": 0.5}}
    assert "\x1b" not in gate_reference(hostile)[1]
