"""Headless Chromium for the web target: the one launcher, and images through an exported folder's own JS API.

Used by the export gate (when Chromium and Playwright are installed), the tests and the browser benchmark.
``chromium_path()`` finds the browser: ``$EDGEMNIST_CHROMIUM`` when set, else the first of ``CHROMIUM_NAMES`` on
PATH (Debian's ``chromium``). ``launch(pw)`` starts it through Playwright with ``CHROMIUM_ARGS`` (quiet, offline,
reproducible), as a browser or, given a profile folder, a persistent context. ``run_images`` serves the folder
with ``edgemnist.web.serve`` on 127.0.0.1 and aborts and reports every request for anything else.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from edgemnist.errors import ArtifactError, MissingDependencyError

#: Flags for a quiet, offline, reproducible headless Chromium.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: The variable that names the Chromium executable to use (an override of the PATH lookup).
CHROMIUM_ENV = "EDGEMNIST_CHROMIUM"
#: Executable names looked up on PATH, in order, when the variable is not set.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

RUN_IMAGES = """async ([b64, simd]) => {
  const mod = await import("./edgemnist.js"), EdgeMnist = mod.default, {PIXELS, CLASSES} = mod;
  const model = await EdgeMnist.load("./", {simd});
  const bin = atob(b64), raw = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) raw[i] = bin.charCodeAt(i);
  const n = raw.length / PIXELS, scores = new Int8Array(n * CLASSES), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = model.predict(raw.subarray(i * PIXELS, (i + 1) * PIXELS));
    scores.set(r.scores, i * CLASSES);
    labels[i] = r.label;
  }
  const enc = (u) => { let s = ""; for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return btoa(s); };
  return {scores: enc(new Uint8Array(scores.buffer)), labels: enc(labels), build: model.build,
          kernelPath: model.kernelPath, isolated: crossOriginIsolated};
}"""


def chromium_path() -> str | None:
    """The Chromium executable: ``$EDGEMNIST_CHROMIUM`` if set (None when it names no executable file), else the
    first of ``CHROMIUM_NAMES`` on PATH, else None."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if Path(override).is_file() and os.access(override, os.X_OK) else None
    return next((found for found in map(shutil.which, CHROMIUM_NAMES) if found), None)


def available() -> str | None:
    """None when Chromium and Playwright are both here, else why not (for a manifest or a skip)."""
    if chromium_path() is None:
        override = os.environ.get(CHROMIUM_ENV)
        if override:
            from edgemnist.safetext import safe

            return f"{CHROMIUM_ENV}={safe(override, 200)} is not an executable file"
        return (
            f"Chromium not found (none of {', '.join(CHROMIUM_NAMES)} on PATH; Debian: apt-get install "
            f"chromium; or set {CHROMIUM_ENV} to its path)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright not installed (pip install playwright)"
    return None


def launch(pw, profile: str | os.PathLike[str] | None = None, **options):
    """Headless Chromium with ``CHROMIUM_ARGS`` through a started Playwright ``pw`` (``sync_playwright()``): a
    Browser, or with ``profile`` (a folder) a persistent BrowserContext. ``options`` go to Playwright (e.g.
    ``viewport`` for a persistent context). Raises MissingDependencyError when Chromium is not found."""
    path = chromium_path()
    if path is None:
        raise MissingDependencyError(available() or "Chromium not found")
    common = {"executable_path": path, "headless": True, "args": list(CHROMIUM_ARGS), **options}
    if profile is None:
        return pw.chromium.launch(**common)
    return pw.chromium.launch_persistent_context(str(profile), **common)


def _decode(b64: str, dtype, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype).reshape(shape).copy()


def run_images(folder: str | os.PathLike[str], images: np.ndarray, builds=("simd", "scalar")) -> dict[str, dict]:
    """All ``images`` (uint8 (N, 28, 28) or (N, pixels)) through the page's ``model.predict`` for each build:
    ``{build: {"scores": int8 (N, classes), "labels": (N,), "kernel_path", "isolated"}}``.

    Raises ArtifactError when the page logs a console error or asks for anything off 127.0.0.1, and
    MissingDependencyError when Chromium or Playwright is missing."""
    from edgemnist.web.serve import serve

    why = available()
    if why:
        raise MissingDependencyError(why)
    from playwright.sync_api import sync_playwright

    images = np.asarray(images, dtype=np.uint8)
    x = np.ascontiguousarray(images.reshape(len(images), -1))
    b64 = base64.b64encode(x.tobytes()).decode()
    errors: list[str] = []
    offsite: list[str] = []
    out: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory(prefix="edgemnist-chromium-") as profile,
        serve(folder) as server,
        sync_playwright() as pw,
    ):
        context = launch(pw, profile)
        try:

            def route(r):
                if r.request.url.startswith(server.url):
                    r.continue_()
                else:
                    offsite.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url)
            page.wait_for_selector("body[data-ready]", timeout=60_000)
            for build in builds:
                got = page.evaluate(RUN_IMAGES, [b64, build == "simd"])
                out[got["build"]] = {
                    "scores": _decode(got["scores"], np.int8, (len(x), -1)),
                    "labels": _decode(got["labels"], np.uint8, (len(x),)).astype(np.int64),
                    "kernel_path": got["kernelPath"],
                    "isolated": got["isolated"],
                }
        finally:
            context.close()
    if errors or offsite:
        raise ArtifactError(
            f"{folder}: in Chromium the page logged errors {errors[:3]} / asked for {offsite[:3]} off 127.0.0.1"
        )
    return out
