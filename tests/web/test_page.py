"""The exported web folder in a real browser: Playwright drives Debian Chromium headless (fresh profile) against
``edgemnist.web.serve`` on a 127.0.0.1 port the test picks; every request is routed and anything for another
host fails the test, as does any console error. What is shown and computed is read back from the page."""

from __future__ import annotations

import base64
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from toolchains import requires

from edgemnist import normalize
from edgemnist.web.browser import RUN_IMAGES, launch
from edgemnist.web.serve import serve


@pytest.fixture(scope="module")
def site(export_artifact):
    """The folder `edgemnist export --format web` wrote (export/web/)."""
    requires("host", "wasm32", "wasmtime")
    export_artifact("c")  # first: the web export then builds from this very C (the host reference below)
    return export_artifact("web").path.parent


@pytest.fixture(scope="module")
def host_scores(export_artifact, mnist):
    """The same C kernel compiled for this machine (ctypes): 10,000 x 10 int8 scores and the digits."""
    from edgemnist.build.host import HostKernel

    return HostKernel(export_artifact("c").path).run(mnist.test_images.reshape(-1, 784))


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    """Debian Chromium headless (fresh profile) with every request routed: anything not for our server fails."""
    requires("chromium", "playwright")
    from playwright import sync_api

    offsite: list[str] = []
    origin = f"http://127.0.0.1:{server.port}/"

    def route(r):
        if r.request.url.startswith(origin):
            r.continue_()
        else:
            offsite.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as pw:
        context = launch(pw, tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 900, "height": 760})
        context.route("**/*", route)
        context.offsite = offsite
        yield context
        context.close()
    assert not offsite, f"requests left 127.0.0.1: {offsite}"


class Page:
    """One page of the app with its console errors and off-origin requests collected."""

    def __init__(self, context, url):
        self.context, self.errors = context, []
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]", timeout=30_000)

    def settle(self):
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def draw(self, strokes, steps=3):
        """Draw strokes given in unit coordinates (0-1, y down) on the pad with the mouse."""
        x0, y0, w, h = self.page.evaluate(
            "() => { const p = document.getElementById('pad'), r = p.getBoundingClientRect();"
            " return [r.left + p.clientLeft, r.top + p.clientTop, p.clientWidth, p.clientHeight]; }"
        )
        mouse = self.page.mouse
        for stroke in strokes:
            pts = [(x0 + x * w, y0 + y * h) for x, y in stroke]
            mouse.move(*pts[0])
            mouse.down()
            for p in pts[1:]:
                mouse.move(*p, steps=steps)
            mouse.up()
        self.settle()

    def clean(self):
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.context.offsite, f"requests left 127.0.0.1: {self.context.offsite}"

    def close(self):
        self.page.close()


@pytest.fixture
def page(browser, server):
    p = Page(browser, server.url)
    yield p
    p.close()


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def test_all_test_images_through_the_page_wasm_match_the_host_c(page, mnist, host_scores):
    """10,000 MNIST test images through the JS API in Chromium, SIMD and scalar builds: 0 differing bytes."""
    want_scores, want_labels = host_scores
    images_b64 = _b64(mnist.test_images.reshape(-1, 784))
    seen = {}
    for simd in ("auto", False):
        got = page.page.evaluate(RUN_IMAGES, [images_b64, simd])
        scores = np.frombuffer(base64.b64decode(got["scores"]), np.int8).reshape(-1, 10)
        labels = np.frombuffer(base64.b64decode(got["labels"]), np.uint8)
        assert scores.shape == want_scores.shape
        diff = int(np.count_nonzero(scores != want_scores))
        assert diff == 0, f"{got['build']}: {diff} output bytes differ from the host C kernel"
        assert np.array_equal(labels, want_labels)
        assert np.array_equal(labels, np.argmax(scores, axis=1))  # the first index wins a tie
        seen[got["build"]] = got["kernelPath"]
        assert got["isolated"] is True
    assert seen == {"simd": "wasm-simd128", "scalar": "portable"}  # auto picked SIMD; both paths ran
    assert np.mean(want_labels == mnist.test_labels) > 0.97
    page.clean()


def _ellipse(cx, cy, rx, ry, n=28):
    return [
        (cx + rx * math.cos(-math.pi / 2 + 2 * math.pi * i / n), cy + ry * math.sin(-math.pi / 2 + 2 * math.pi * i / n))
        for i in range(n + 1)
    ]


#: One way to write each digit, as strokes in unit coordinates (x right, y down), the way people draw them.
DIGITS = {
    0: [_ellipse(0.5, 0.5, 0.22, 0.33)],
    1: [[(0.42, 0.24), (0.52, 0.14), (0.52, 0.86)]],
    2: [
        [
            (0.3, 0.3),
            (0.38, 0.19),
            (0.52, 0.14),
            (0.66, 0.19),
            (0.7, 0.32),
            (0.62, 0.47),
            (0.45, 0.64),
            (0.28, 0.84),
            (0.74, 0.84),
        ]
    ],
    3: [
        [
            (0.3, 0.2),
            (0.47, 0.14),
            (0.64, 0.18),
            (0.68, 0.31),
            (0.58, 0.43),
            (0.45, 0.47),
            (0.6, 0.52),
            (0.7, 0.64),
            (0.67, 0.78),
            (0.5, 0.86),
            (0.3, 0.8),
        ]
    ],
    4: [[(0.38, 0.14), (0.3, 0.56), (0.74, 0.56)], [(0.63, 0.14), (0.63, 0.86)]],
    5: [
        [
            (0.7, 0.15),
            (0.36, 0.15),
            (0.32, 0.46),
            (0.46, 0.41),
            (0.62, 0.46),
            (0.7, 0.6),
            (0.67, 0.76),
            (0.53, 0.86),
            (0.38, 0.85),
            (0.28, 0.78),
        ]
    ],
    6: [
        [
            (0.64, 0.14),
            (0.48, 0.26),
            (0.36, 0.44),
            (0.31, 0.63),
            (0.36, 0.8),
            (0.5, 0.87),
            (0.64, 0.81),
            (0.69, 0.67),
            (0.62, 0.55),
            (0.48, 0.52),
            (0.36, 0.6),
        ]
    ],
    7: [[(0.27, 0.17), (0.73, 0.17), (0.58, 0.45), (0.46, 0.86)]],
    8: [[(0.5 + 0.18 * math.sin(2 * t), 0.5 - 0.35 * math.cos(t)) for t in (2 * math.pi * i / 40 for i in range(41))]],
    9: [_ellipse(0.5, 0.34, 0.18, 0.18), [(0.68, 0.34), (0.66, 0.6), (0.62, 0.86)]],
}


def styled(strokes, style):
    """The same digit written differently: slanted, small in a corner, wide and flat, low and to the right."""

    def move(x, y):
        if style == "slanted":
            return x + 0.22 * (0.5 - y), y
        if style == "small":
            return 0.1 + 0.5 * x, 0.08 + 0.5 * y
        if style == "wide":
            return 0.5 + (x - 0.5) * 1.35, 0.5 + (y - 0.5) * 0.85
        if style == "low":
            return 0.3 + 0.7 * x, 0.28 + 0.7 * y
        return x, y

    return [[move(x, y) for x, y in s] for s in strokes]


STYLES = ("plain", "slanted", "small", "wide", "low")

READ_DRAWING = """async () => {
  const EdgeMnist = (await import("./edgemnist.js")).default;
  const pad = document.getElementById("pad"), view = document.getElementById("view");
  const gray = EdgeMnist.grayFromCanvas(pad);
  const pixels = EdgeMnist.normalizeDigit(gray, pad.width, pad.height);
  const shown = view.getContext("2d").getImageData(0, 0, 28, 28).data;
  const seen = new Uint8Array(784);
  for (let i = 0; i < 784; i++) seen[i] = shown[4 * i];
  const enc = (u) => { let s = ""; for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return btoa(s); };
  return {gray: enc(gray), pixels: enc(pixels), seen: enc(seen), width: pad.width, height: pad.height,
          digit: document.getElementById("digit").textContent};
}"""


def test_drawn_digits_are_recognized_and_preprocessed_like_python(page, tmp_path):
    """Each digit in five styles drawn with the mouse: the page's answer, and its 28x28 bytes against Python's."""
    results, differ = [], []
    for style in STYLES:
        for digit, strokes in DIGITS.items():
            page.page.keyboard.press("Escape")
            page.draw(styled(strokes, style))
            got = page.page.evaluate(READ_DRAWING)
            gray = np.frombuffer(base64.b64decode(got["gray"]), np.uint8).reshape(got["height"], got["width"])
            js = np.frombuffer(base64.b64decode(got["pixels"]), np.uint8).reshape(28, 28)
            seen = np.frombuffer(base64.b64decode(got["seen"]), np.uint8).reshape(28, 28)
            py = normalize.normalize_digit(gray)
            if not (np.array_equal(js, py) and np.array_equal(seen, py)):
                differ.append((style, digit, int(np.count_nonzero(js != py)), int(np.count_nonzero(seen != py))))
            results.append((style, digit, got["digit"]))
            if (style, digit) == ("plain", 3):
                page.page.screenshot(path=str(tmp_path / "web.png"))
    assert not differ, f"JS and Python preprocessing differ (style, digit, bytes, shown bytes): {differ}"
    wrong = [r for r in results if r[2] != str(r[1])]
    print(f"drawn digits: {len(results) - len(wrong)} of {len(results)} read as drawn; misread: {wrong}")
    assert len(wrong) <= 0.1 * len(results), f"{len(wrong)} of {len(results)} drawings misread: {wrong}"
    shot = (tmp_path / "web.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    keep = os.environ.get("EDGEMNIST_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "web.png", Path(keep) / "web.png")
    page.clean()


PREPROCESS = """async (cases) => {
  const EdgeMnist = (await import("./edgemnist.js")).default;
  return cases.map(([values, w, h, invert]) => {
    try { return Array.from(EdgeMnist.normalizeDigit(values, w, h, {invert})); }
    catch (e) { return e.name + ": " + e.message; }
  });
}"""


def test_js_preprocessing_equals_python_on_arbitrary_arrays(page, mnist):
    """Float and integer arrays of many sizes (shrinking and enlarging, both polarities), MNIST digits as they are."""
    rng = np.random.default_rng(7)
    cases = []
    for i in range(60):
        h, w = int(rng.integers(3, 160)), int(rng.integers(3, 160))
        a = np.zeros((h, w))
        r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        a[r0 : r0 + int(rng.integers(1, h)), c0 : c0 + int(rng.integers(1, w))] = rng.uniform(20, 255)
        a += rng.uniform(0, 30, (h, w)) * (rng.random((h, w)) < 0.2)
        if i % 3 == 0:
            a = np.rint(a)
        if i % 2:
            a = 255.0 - a
        cases.append((a, [None, True, False][i % 3] if i % 5 == 0 else None))
    cases += [(d.astype(np.float64), None) for d in mnist.test_images[:10]]
    cases += [(np.roll(d, (5, -4), axis=(0, 1)).astype(np.float64), None) for d in mnist.test_images[10:20]]
    got = page.page.evaluate(PREPROCESS, [[a.ravel().tolist(), a.shape[1], a.shape[0], inv] for a, inv in cases])
    for (a, inv), js in zip(cases, got, strict=True):
        try:
            want = normalize.normalize_digit(a, invert=inv).ravel().tolist()
        except ValueError as exc:
            assert isinstance(js, str) and js.startswith("NoDigitError: no digit found"), (str(exc), js)
            continue
        assert js == want, f"{a.shape} invert={inv}"
    page.clean()


BAD_INPUT = """async () => {
  const EdgeMnist = (await import("./edgemnist.js")).default;
  const model = await EdgeMnist.load("./");
  const out = {};
  const tryit = (name, f) => {
    try { f(); out[name] = "no error"; } catch (e) { out[name] = e.name + ": " + e.message; }
  };
  tryit("short", () => model.predict(new Uint8Array(783)));
  tryit("long", () => model.predict(new Uint8Array(785)));
  tryit("float32", () => model.predict(new Float32Array(784)));
  tryit("array", () => model.predict(new Array(784).fill(0)));
  tryit("null", () => model.predict(null));
  tryit("string", () => model.predict("0".repeat(784)));
  tryit("none", () => model.predict());
  tryit("norm_length", () => EdgeMnist.normalizeDigit(new Uint8Array(10), 3, 3));
  tryit("norm_nan", () => EdgeMnist.normalizeDigit([1, NaN, 3, 4], 2, 2));
  tryit("norm_size", () => EdgeMnist.normalizeDigit(new Uint8Array(4), 2.5, 2));
  tryit("norm_blank", () => EdgeMnist.normalizeDigit(new Uint8Array(100), 10, 10));
  try { await EdgeMnist.load("./", {simd: "yes"}); out.simd = "no error"; }
  catch (e) { out.simd = e.name + ": " + e.message; }
  try { await EdgeMnist.load("./nowhere/"); out.missing = "no error"; }
  catch (e) { out.missing = e.name + ": " + e.message; }
  out.ok = model.predict(new Uint8ClampedArray(784)).scores.length;
  return out;
}"""


def test_bad_input_to_the_js_api_throws_clear_errors(page):
    page.page.on("console", lambda m: None)
    got = page.page.evaluate(BAD_INPUT)
    expected = "expected a Uint8Array of 784 pixels"
    assert got["short"] == "RangeError: EdgeMnist predict: expected 784 pixels (28x28); got 783"
    assert got["long"] == "RangeError: EdgeMnist predict: expected 784 pixels (28x28); got 785"
    for name, kind in [
        ("float32", "Float32Array(784)"),
        ("array", "Array(784)"),
        ("null", "null"),
        ("string", "string"),
        ("none", "undefined"),
    ]:
        assert got[name].startswith("TypeError: EdgeMnist predict: " + expected) and got[name].endswith(kind), got[name]
    assert got["norm_length"].startswith("RangeError: EdgeMnist normalizeDigit: expected 3x3 = 9 values; got 10")
    assert got["norm_nan"] == "TypeError: EdgeMnist normalizeDigit: expected finite numbers; value 1 is NaN"
    assert got["norm_size"].startswith("RangeError: EdgeMnist normalizeDigit: expected a positive integer width")
    assert got["norm_blank"] == "NoDigitError: no digit found: the image is blank (uniform brightness)"
    assert got["simd"].startswith('TypeError: EdgeMnist load: simd must be "auto", true or false')
    assert got["missing"].startswith("Error: EdgeMnist load: ") and "answered 404" in got["missing"]
    assert got["ok"] == 10
    page.errors.clear()  # the 404 above is logged by Chromium as a failed resource load, which this test caused
    page.clean()


def test_keyboard_undo_clear_and_accessible_controls(page):
    p = page.page
    assert p.get_by_role("button", name="Undo").is_disabled()
    page.draw(DIGITS[4][:1])
    page.draw(DIGITS[4][1:])
    assert p.locator("#digit").text_content() == "4"
    p.keyboard.press("u")
    page.settle()
    assert p.locator("#digit").text_content() != "4"  # one stroke of the 4 is left
    p.keyboard.press("Control+z")
    page.settle()
    assert p.locator("#digit").text_content() == "\u2013" and p.get_by_role("button", name="Clear").is_disabled()
    page.draw(DIGITS[7])
    assert p.locator("#digit").text_content() == "7"
    p.get_by_role("button", name="Clear").focus()
    p.keyboard.press("Enter")
    page.settle()
    assert p.locator("#digit").text_content() == "\u2013"
    page.draw(DIGITS[1])
    p.keyboard.press("Escape")
    page.settle()
    assert p.locator("#digit").text_content() == "\u2013"
    assert p.get_by_role("img", name="Drawing pad: draw one digit, 0 to 9, with mouse, pen or finger").count() == 1
    assert p.get_by_role("list", name="score per digit").locator("li").count() == 10
    assert "wasm simd" in p.locator("#status").text_content()
    facts = p.locator("#facts").text_content()
    assert "sha256" in facts and "bytes" in facts
    page.clean()


def test_phone_viewport_and_touch_drawing(page):
    """375x667: nothing scrolls sideways, the pad fits, and a finger (touch events) draws a digit."""
    p = page.page
    p.set_viewport_size({"width": 375, "height": 667})
    page.settle()
    width, pad_right = p.evaluate(
        "() => [document.documentElement.scrollWidth, document.getElementById('pad').getBoundingClientRect().right]"
    )
    assert width <= 375 and pad_right <= 375
    x0, y0, w, h = p.evaluate(
        "() => { const c = document.getElementById('pad'), r = c.getBoundingClientRect();"
        " return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth, c.clientHeight]; }"
    )
    cdp = page.context.new_cdp_session(p)
    pts = [(x0 + x * w, y0 + y * h) for x, y in DIGITS[7][0]]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": pts[0][0], "y": pts[0][1]}]})
    for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
        for k in range(1, 9):
            x, y = ax + (bx - ax) * k / 8, ay + (by - ay) * k / 8
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.settle()
    assert p.locator("#digit").text_content() == "7"
    page.clean()


def test_a_wasm_changed_after_export_is_refused_by_the_page(browser, server, site):
    """The module's sha256 is checked against the manifest before it runs: a changed file shows an error."""
    data = bytearray((site / "edgemnist_model.wasm").read_bytes())
    data[-100] ^= 1  # a weight byte: still a valid module, another model
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(
        "**/edgemnist_model.wasm",
        lambda r: r.fulfill(
            status=200,
            body=bytes(data),
            headers={
                "Content-Type": "application/wasm",
                "Cross-Origin-Embedder-Policy": "require-corp",
                "Cross-Origin-Opener-Policy": "same-origin",
            },
        ),
    )
    page.goto(server.url)
    status = page.locator("#status")
    status.filter(has_text="could not load the model").wait_for(timeout=30_000)
    assert "the file was changed after export" in status.text_content()
    assert status.get_attribute("data-state") == "error"
    assert any("changed after export" in e for e in errors)  # the page rethrows: visible in the console too
    page.close()


def test_a_browser_without_wasm_simd_gets_the_scalar_build(browser, server):
    """Feature detection: where WebAssembly.validate refuses the SIMD probe, the page loads the scalar module."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    requested = []
    page.on("request", lambda r: requested.append(r.url.rsplit("/", 1)[-1]))
    page.add_init_script("WebAssembly.validate = () => false;")  # what a browser without SIMD answers
    page.goto(server.url)
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    assert page.evaluate("document.body.dataset.ready") == "scalar"
    assert "edgemnist_model.scalar.wasm" in requested
    assert "wasm scalar" in page.locator("#status").text_content()
    assert not errors
    page.close()
