"""The browser target: the C kernel compiled to WebAssembly, a page to draw digits on, a small JS API.

- ``static/``: ``index.html`` (the page) and ``edgemnist.js`` (the API the page uses: ``EdgeMnist.load``,
  ``model.predict``, ``EdgeMnist.normalizeDigit``), copied verbatim into an export; no build step, no framework.
- ``glue.c``: the static input/output buffers JavaScript fills and reads; ``build.py`` compiles it with the
  generated C kernel into the SIMD and scalar ``.wasm`` modules; ``serve.py``: ``edgemnist serve DIR``.
"""
