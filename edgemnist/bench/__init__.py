"""Benchmarks that deserve trust (``edgemnist bench``), one concern per module.

- ``config``: ``BenchConfig`` (validated settings);
- ``timing``: how calls are timed and summarized (``measure``, ``Stats``, ``Measurement``);
- ``machine``: the machine and memory facts every report records;
- ``runs``: ``run_bench``; ``artifact``: ``bench_artifact`` (one artifact against its backend's raw loop);
  ``keras``: ``bench_keras`` (the Keras baseline);
- ``report``: ``ArtifactResult`` / ``BenchReport`` and their JSON (``SCHEMA``, ``OVERHEAD_TARGET``);
- ``render`` (text, Markdown), ``plot`` (PNG) and ``terminal`` (rich tables): from the JSON data alone.
- ``cortex_m4``: the C kernel's figures on an emulated Cortex-M4 (``edgemnist bench --target cortex-m4``).

Importing this package imports no numpy, so ``edgemnist bench --help`` stays light.
"""
