"""Gap between TFLM's smallest working arena and its recorded allocation, vs hidden width and quantization."""
import os, sys, subprocess, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
sys.path.insert(0, "/work/wt/ux")
from edgemnist.export.micro import min_arena_bytes, recorded_arena_bytes
rng = np.random.default_rng(0)
x = rng.random((200, 784), dtype=np.float32)
out = []
for n, bias in [(n, b) for b in ("zeros", "random_normal") for n in (256, 384, 512)]:
    for per_channel in (True,):
        m = tf.keras.Sequential([tf.keras.Input((784,)), tf.keras.layers.Dense(n, activation="relu", bias_initializer=bias), tf.keras.layers.Dense(10, activation="softmax", bias_initializer=bias)])
        c = tf.lite.TFLiteConverter.from_keras_model(m)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([x[i:i+1]] for i in range(100))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8; c.inference_output_type = tf.int8
        if not per_channel:
            c._experimental_disable_per_channel_quantization_for_dense_layers = True
        b = c.convert()
        lo = min_arena_bytes(b)
        rec = recorded_arena_bytes(b, lo)
        out.append(dict(bias=bias, hidden=n, per_channel=per_channel, min_arena=lo, recorded_total=rec, gap=lo - rec))
        print(out[-1], flush=True)
json.dump(out, open("/tmp/fc_gap2.json", "w"), indent=1)
