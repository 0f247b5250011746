"""TensorFlow Lite Micro, runtime-neutral: what both the micro exporter and the micro backend need.

- ``arena``: the smallest tensor arena, found by probing TFLM in child processes (TFLM can crash on a too-small
  arena), and the (model, arena) pairs proven to run in this process;
- ``layout``: the ``model_data.cc`` / ``model_data.h`` pair described once (symbols, constants, line spellings);
  ``writer`` renders it and ``reader`` parses it back (strict, streaming, bounded), both from that description;
- ``runner``: the TFLM interpreter on one model and a verified arena, and the int8 pixel mapping.

Imports nothing from ``edgemnist.export`` or ``edgemnist.predictor``; never TensorFlow.
"""
