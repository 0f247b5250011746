"""Compiling the generated C kernel for a target, and running what was built.

- ``targets``: the table of targets (compiler, tools and their Debian packages, flags, compute paths, board,
  harness, emulator, instruction counting, memory budget), one frozen row each; ``get(name)``.
- ``compile.build(target, c_path)``: the one runner (pair proven first, private sources, scrubbed environment,
  timeouts, sha256-keyed cache) -> ``Build``.
- ``host.HostKernel``: the ``host`` build called through ctypes.
- ``emulate.run(target, c_path, pixels, path)``: a firmware build under its emulator -> ``FirmwareRun``.
- ``wasmfile``: the imports and exports of a wasm module.
- ``verify.verify_host``: the host build against TensorFlow Lite Micro (and LiteRT).
- ``boards/<board>/``: start-up code and link script of each board; ``harness/``: the code a build adds around
  the kernel (the firmware's semihosting ``main.c``, the wasm glue).
"""
