"""The browser target: the C kernel compiled to WebAssembly, a page to draw digits on, a small JS API.

- ``static/``: ``index.html`` (the page) and ``edgemnist.js`` (the API the page uses: ``EdgeMnist.load``,
  ``model.predict``, ``EdgeMnist.normalizeDigit``), copied verbatim into an export; no build step, no framework.
- ``site.py``: the folder: the generated C kernel built for ``wasm32`` (``edgemnist.build``; SIMD and scalar
  ``.wasm``), the page, the manifest.
- ``serve.py``: ``edgemnist serve DIR`` (127.0.0.1 only, COOP/COEP). ``runtime.py``: the ``.wasm`` in wasmtime
  (the Predictor backend and the export gate). ``browser.py``: images through the page in headless Chromium.

The exporter is ``edgemnist.export.web``, the backend ``edgemnist.predictor.web``.
"""
