"""Interpreter-free C for the edgemnist int8 MLP, byte-identical to TFLite Micro's reference kernels.

- ``model.read_model(path)``: the int8 ``.tflite``'s tensors, scales, zero points and per-channel weights, read from
  the file itself (pure Python, no TensorFlow or LiteRT).
- ``quant``: TFLM's ``QuantizeMultiplier`` / ``PreprocessSoftmaxScaling`` / ``CalculateInputRadius`` in Python.
- ``layout``: what the ``edgemnist_model.c`` + ``edgemnist_model.h`` pair holds (a list of dense layers, each with
  a weight codec; arrays, macros, derived sizes), described once; ``writer.render(model)`` writes the pair from it
  and ``reader.check_pair`` reads a pair back strictly against it. The pair is C99 (<stdint.h> only), with a
  portable path, a Cortex-M Helium path (``__ARM_FEATURE_MVE``), a Cortex-M DSP path (``__ARM_FEATURE_DSP``) and a
  WebAssembly SIMD path (``__wasm_simd128__``).

Compiling and running the pair on a target (this machine, an emulated Cortex-M, WebAssembly) is
:mod:`edgemnist.build`.
"""
