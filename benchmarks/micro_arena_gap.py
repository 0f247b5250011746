"""Why TFLite Micro's smallest working arena is larger than what its allocator reports after AllocateTensors().

For MLPs shaped like edgemnist's (784 -> Dense N relu -> Dense 10 softmax, full-integer int8, random weights: the
arena does not depend on their values), with and without a bias, per-channel (the converter's default) or
per-tensor quantized, this measures in the tflite-micro Python interpreter (reference kernels,
RecordingMicroAllocator):

- ``min_arena``: the smallest arena that allocates and runs (edgemnist's bisection in child processes);
- ``recorded_total``: the allocator's own "Arena allocation total" at that arena (what ``arena_used_bytes()``
  reports in C++);
- ``gap`` = min_arena - recorded_total.

Reading it: the gap is 0 for per-tensor models, and for per-channel ones it grows by 3 B per hidden channel
without a bias and by 7 B with one. FULLY_CONNECTED's Prepare takes temporary TfLiteTensor copies of its
inputs (``AllocateTempInputTensor``); a per-channel tensor's copy holds a ``TfLiteIntArray`` of N int32 zero
points (4 + 4 N bytes: 2,052 B at N = 512), one for the weights and one for the bias, in the arena's temporary
section. They are released before the final memory plan, whose non-persistent part (the activations) is only
~1 B per channel, and before the allocator is asked how much it used.

    python benchmarks/micro_arena_gap.py [--out benchmarks/results/micro_arena_gap.json]

Needs the train extra (TensorFlow, to convert) and the micro extra (tflite-micro). Deterministic: the machine's
load does not change the result. ~2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES = [(n, bias, True) for bias in (False, True) for n in (128, 256, 384, 512)]
CASES += [(512, True, False), (512, False, False)]


def convert(hidden: int, bias: bool, per_channel: bool) -> bytes:
    import numpy as np
    import tensorflow as tf

    init = "random_normal" if bias else "zeros"  # a zero bias is dropped by the converter
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((784,)),
            tf.keras.layers.Dense(hidden, activation="relu", bias_initializer=init),
            tf.keras.layers.Dense(10, activation="softmax", bias_initializer=init),
        ]
    )
    x = np.random.default_rng(0).random((100, 784), dtype=np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    if not per_channel:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "micro_arena_gap.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tflite_micro

    from edgemnist.tflm.arena import min_arena_bytes, recorded_arena_bytes

    rows = []
    for hidden, bias, per_channel in CASES:
        model = convert(hidden, bias, per_channel)
        least = min_arena_bytes(model)
        recorded = recorded_arena_bytes(model, least)
        rows.append(
            {
                "hidden": hidden,
                "bias": bias,
                "per_channel": per_channel,
                "min_arena": least,
                "recorded_total": recorded,
                "gap": least - recorded,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "what": "TFLM smallest working arena vs RecordingMicroAllocator total, 784-N-10 int8 MLPs",
        "interpreter": "tflite-micro Python interpreter (reference kernels, RecordingMicroAllocator)",
        "tflite_micro": getattr(tflite_micro, "__version__", None),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
