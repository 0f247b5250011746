"""The browser target: the C kernel compiled to WebAssembly, a page to draw digits on, a small JS API.

- ``static/``: ``index.html`` (the page) and ``edgemnist.js`` (the API the page uses: ``EdgeMnist.load``,
  ``model.predict``, ``EdgeMnist.normalizeDigit``), copied verbatim into an export; no build step, no framework.
- ``glue.c`` + ``build.py``: the generated C kernel and its glue compiled into the SIMD and scalar ``.wasm``.
- ``serve.py``: ``edgemnist serve DIR`` (127.0.0.1 only, COOP/COEP). ``runtime.py``: the ``.wasm`` in wasmtime
  (the Predictor backend and the export gate). ``browser.py``: images through the page in headless Chromium.

The exporter is ``edgemnist.export.web``, the backend ``edgemnist.predictor.web``.
"""
