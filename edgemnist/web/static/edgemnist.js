// edgemnist.js: the int8 MNIST model in WebAssembly (the C kernel, SIMD or scalar build) and the MNIST-style
// preprocessing of edgemnist.normalize.normalize_digit, repeated operation for operation (same 28x28 bytes).
//   const model = await EdgeMnist.load("./");  model.predict(Uint8Array(784)) -> {label, scores: Int8Array(10)}
//   EdgeMnist.normalizeDigit(gray, width, height) -> Uint8Array(784)

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const CLASSES = 10;
const MANIFEST = "edgemnist_model.wasm.json";
const BOX = 20, INK_FRACTION = 0.2, BLANK_LEVELS = 8, NOISE_SIGMAS = 3; // as in edgemnist.normalize

// A function using i8x16.splat and i32x4.dot_i16x8_s: a browser that validates it runs the SIMD build.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0,
  65, 0, 253, 15, 65, 0, 253, 15, 253, 186, 1, 11]);

export function simdSupported() {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

function describe(x) {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${x.length})`;
  if (Array.isArray(x)) return `Array(${x.length})`;
  return typeof x === "object" ? (x.constructor ? x.constructor.name : "object") : typeof x;
}

async function sha256Hex(bytes) {
  if (!(globalThis.crypto && crypto.subtle)) return null; // secure contexts only
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A loaded model: manifest (the export's facts), build ("simd"/"scalar"), kernelPath ("wasm-simd128"/"portable").
export class Model {
  constructor(instance, manifest, build) {
    const ex = instance.exports;
    for (const name of ["memory", "em_input", "em_scores", "em_predict", "em_path"]) {
      if (!(name in ex)) throw new Error(`EdgeMnist: the wasm module does not export ${name}; rebuild the web export`);
    }
    this._predict = ex.em_predict;
    this._input = new Uint8Array(ex.memory.buffer, ex.em_input(), PIXELS);
    this._scores = new Int8Array(ex.memory.buffer, ex.em_scores(), CLASSES);
    this.manifest = manifest;
    this.build = build;
    const bytes = new Uint8Array(ex.memory.buffer), start = ex.em_path();
    let end = start;
    while (end < bytes.length && bytes[end] !== 0) end++;
    this.kernelPath = String.fromCharCode(...bytes.subarray(start, end));
  }

  // -> {label: first index of the highest score, scores: int8 softmax, probability = (score + 128) / 256}
  predict(pixels) {
    if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) {
      throw new TypeError(`EdgeMnist predict: expected a Uint8Array of ${PIXELS} pixels (28x28 row-major, 0-255, ` +
        `white digit on black); got ${describe(pixels)}`);
    }
    if (pixels.length !== PIXELS) {
      throw new RangeError(`EdgeMnist predict: expected ${PIXELS} pixels (28x28); got ${pixels.length}`);
    }
    this._input.set(pixels);
    const label = this._predict();
    return { label, scores: this._scores.slice() };
  }
}

// url: the exported folder ("…/") or its manifest; simd: "auto" (detect), true or false (force a build).
export async function load(url = new URL("./", import.meta.url), { simd = "auto" } = {}) {
  let base = new URL(url, globalThis.location ? location.href : import.meta.url);
  const manifestUrl = base.pathname.endsWith(".json") ? base : new URL(MANIFEST, base);
  base = new URL("./", manifestUrl);
  const response = await fetch(manifestUrl);
  if (!response.ok) throw new Error(`EdgeMnist load: ${manifestUrl} answered ${response.status}; expected the manifest`);
  const manifest = await response.json();
  const builds = manifest.web && manifest.web.wasm;
  if (!builds || !builds.scalar) throw new Error(`EdgeMnist load: ${manifestUrl} lists no wasm builds (web.wasm)`);
  if (simd !== "auto" && typeof simd !== "boolean") {
    throw new TypeError(`EdgeMnist load: simd must be "auto", true or false; got ${describe(simd)}`);
  }
  const useSimd = simd === "auto" ? Boolean(builds.simd) && simdSupported() : simd;
  if (useSimd && !builds.simd) throw new Error("EdgeMnist load: this export has no SIMD build");
  const entry = useSimd ? builds.simd : builds.scalar;
  const wasmUrl = new URL(entry.file, base);
  const wasm = await fetch(wasmUrl);
  if (!wasm.ok) throw new Error(`EdgeMnist load: ${wasmUrl} answered ${wasm.status}`);
  const bytes = await wasm.arrayBuffer();
  const digest = await sha256Hex(bytes);
  if (digest !== null && entry.sha256 && digest !== entry.sha256) {
    throw new Error(`EdgeMnist load: ${wasmUrl} has sha256 ${digest}, the manifest says ${entry.sha256}; ` +
      "the file was changed after export");
  }
  const { instance } = await WebAssembly.instantiate(bytes, {}); // the module imports nothing
  return new Model(instance, manifest, useSimd ? "simd" : "scalar");
}

// ---- preprocessing: edgemnist.normalize, operation for operation; sums left to right as its _osum ----

// Python's round() and numpy's rint(): halves to even.
function roundHalfEven(x) {
  const r = Math.round(x); // halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function borderMedian(a, h, w) {
  const k = Math.max(1, Math.floor(Math.min(h, w) / 20)); // a frame ~5 % thick
  const frame = [];
  for (let r = 0; r < k; r++) for (let c = 0; c < w; c++) frame.push(a[r * w + c]);
  for (let r = h - k; r < h; r++) for (let c = 0; c < w; c++) frame.push(a[r * w + c]);
  for (let r = 0; r < h; r++) for (let c = 0; c < k; c++) frame.push(a[r * w + c]);
  for (let r = 0; r < h; r++) for (let c = w - k; c < w; c++) frame.push(a[r * w + c]);
  const s = Float64Array.from(frame).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function median(values) {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// Python: _solve3 (Cramer's rule), null when singular.
function solve3(n, su, sv, suu, suv, svv, sz, suz, svz) {
  const det = (a1, a2, a3, b1, b2, b3, d1, d2, d3) =>
    a1 * (b2 * d3 - b3 * d2) - b1 * (a2 * d3 - a3 * d2) + d1 * (a2 * b3 - a3 * b2);
  const d = det(n, su, sv, su, suu, suv, sv, suv, svv);
  if (!(Math.abs(d) > 1e-12 * Math.max(1, n) ** 3)) return null;
  return [det(sz, suz, svz, su, suu, suv, sv, suv, svv) / d,
    det(n, su, sv, sz, suz, svz, sv, suv, svv) / d,
    det(n, su, sv, su, suu, suv, sz, suz, svz) / d];
}

// a minus its background plane (fitted to the border frame), and the frame's noise sigma (Python: _residual).
function residual(a, h, w) {
  const k = Math.max(1, Math.floor(Math.min(h, w) / 20));
  const xs = [], ys = [], zs = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y < k || y >= h - k || x < k || x >= w - k) { xs.push(x); ys.push(y); zs.push(a[y * w + x]); }
    }
  }
  const m = zs.length, cy = (h - 1) / 2, cx = (w - 1) / 2, scale = Math.max(h, w) / 2;
  const u = new Float64Array(m), v = new Float64Array(m), z = Float64Array.from(zs), res = new Float64Array(m);
  for (let i = 0; i < m; i++) { u[i] = (xs[i] - cx) / scale; v[i] = (ys[i] - cy) / scale; }
  const keep = new Uint8Array(m).fill(1);
  let c0 = median(z), c1 = 0, c2 = 0, sigma = 0;
  for (let iter = 0; iter < 3; iter++) {
    let n = 0, su = 0, sv = 0, suu = 0, suv = 0, svv = 0, sz = 0, suz = 0, svz = 0;
    for (let i = 0; i < m; i++) {
      if (!keep[i]) continue;
      n++; su += u[i]; sv += v[i]; suu += u[i] * u[i]; suv += u[i] * v[i]; svv += v[i] * v[i];
      sz += z[i]; suz += u[i] * z[i]; svz += v[i] * z[i];
    }
    if (n >= 3) {
      const solved = solve3(n, su, sv, suu, suv, svv, sz, suz, svz);
      if (solved !== null) [c0, c1, c2] = solved;
    }
    const kept = [];
    for (let i = 0; i < m; i++) {
      res[i] = z[i] - ((c0 + c1 * u[i]) + c2 * v[i]);
      if (keep[i]) kept.push(Math.abs(res[i]));
    }
    sigma = 1.4826 * median(kept);
    const limit = Math.max(3 * sigma, 2);
    for (let i = 0; i < m; i++) keep[i] = Math.abs(res[i]) <= limit ? 1 : 0;
  }
  const r = new Float64Array(a.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      r[y * w + x] = a[y * w + x] - ((c0 + c1 * ((x - cx) / scale)) + c2 * ((y - cy) / scale));
    }
  }
  return { r, noise: sigma };
}

// Python: _dark_side_wins.
function darkSideWins(r, noise) {
  const t = NOISE_SIGMAS * noise;
  let dark = 0, light = 0;
  for (let i = 0; i < r.length; i++) { dark += Math.max(-r[i] - t, 0); light += Math.max(r[i] - t, 0); }
  return dark > light;
}

function maxOf(a) {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

function isMnistLike(a, h, w) {
  // Python: _is_mnist_like (rows summed left to right, columns top to bottom).
  if (borderMedian(a, h, w) > 0.5) return false;
  let lo = Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] < lo) lo = a[i];
  if (lo < -0.5 || maxOf(a) > 255.5) return false;
  const wt = new Float64Array(a.length);
  let total = 0, peak = 0;
  for (let i = 0; i < a.length; i++) { wt[i] = Math.max(a[i], 0); total += wt[i]; peak = Math.max(peak, wt[i]); }
  if (peak <= 8 || total <= 0) return false;
  let my = 0, mx = 0;
  for (let r = 0; r < h; r++) { let s = 0; for (let c = 0; c < w; c++) s += wt[r * w + c]; my += s * r; }
  for (let c = 0; c < w; c++) { let s = 0; for (let r = 0; r < h; r++) s += wt[r * w + c]; mx += s * c; }
  return Math.abs(my / total - (h - 1) / 2) <= 1.5 && Math.abs(mx / total - (w - 1) / 2) <= 1.5;
}

// Exact area averaging of each row of a (rows x n) to length m (Python: _area_taps + _resample_axis).
function resampleRows(a, rows, n, m) {
  const out = new Float64Array(rows * m);
  for (let j = 0; j < m; j++) {
    const lo = j * n, hi = (j + 1) * n;
    const first = Math.floor(lo / m), last = Math.floor((hi - 1) / m);
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let i = first; i <= last; i++) {
        const weight = Math.min(hi, (i + 1) * m) - Math.max(lo, i * m);
        acc += weight * a[r * n + i];
      }
      out[r * m + j] = acc / n;
    }
  }
  return out;
}

function transpose(a, rows, cols) {
  const t = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

function fit(a, h, w, box) {
  const scale = box / Math.max(h, w);
  const width = Math.max(1, roundHalfEven(w * scale)), height = Math.max(1, roundHalfEven(h * scale));
  if (width === w && height === h) return { a, h, w };
  let t = resampleRows(a, h, w, width);                                        // rows: w -> width
  t = transpose(resampleRows(transpose(t, h, width), width, h, height), width, height); // columns: h -> height
  for (let i = 0; i < t.length; i++) t[i] = Math.min(Math.max(t[i], 0), 255);
  return { a: t, h: height, w: width };
}

function placeByMass(box, h, w, side) {
  const rowSums = new Float64Array(h), colSums = new Float64Array(w);
  for (let r = 0; r < h; r++) { let s = 0; for (let c = 0; c < w; c++) s += box[r * w + c]; rowSums[r] = s; }
  for (let c = 0; c < w; c++) { let s = 0; for (let r = 0; r < h; r++) s += box[r * w + c]; colSums[c] = s; }
  let total = 0, my = 0, mx = 0;
  for (let r = 0; r < h; r++) total += rowSums[r];
  for (let r = 0; r < h; r++) my += r * rowSums[r];
  for (let c = 0; c < w; c++) mx += c * colSums[c];
  const cy = my / total, cx = mx / total, centre = (side - 1) / 2;
  const top = Math.min(Math.max(roundHalfEven(centre - cy), 0), side - h);
  const left = Math.min(Math.max(roundHalfEven(centre - cx), 0), side - w);
  const out = new Uint8Array(side * side);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      out[(top + r) * side + left + c] = Math.min(Math.max(roundHalfEven(box[r * w + c]), 0), 255);
    }
  }
  return out;
}

export class NoDigitError extends Error {
  constructor(message) { super(message); this.name = "NoDigitError"; }
}

// gray: width*height values 0-255, row-major -> 784 pixels for predict. invert: null decides from the image's
// contrast, true/false force it. Throws NoDigitError when nothing stands out.
export function normalizeDigit(gray, width, height, { invert = null } = {}) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`EdgeMnist normalizeDigit: expected a positive integer width and height; got ` +
      `${describe(width)} ${width} x ${describe(height)} ${height}`);
  }
  if (gray === null || typeof gray !== "object" || typeof gray.length !== "number") {
    throw new TypeError(`EdgeMnist normalizeDigit: expected an array of ${width * height} grayscale values; got ` +
      describe(gray));
  }
  if (gray.length !== width * height) {
    throw new RangeError(`EdgeMnist normalizeDigit: expected ${width}x${height} = ${width * height} values; got ` +
      `${gray.length}`);
  }
  if (invert !== null && typeof invert !== "boolean") {
    throw new TypeError(`EdgeMnist normalizeDigit: invert must be null, true or false; got ${describe(invert)}`);
  }
  const h = height, w = width;
  let a = new Float64Array(gray.length);
  for (let i = 0; i < a.length; i++) {
    const v = gray[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(`EdgeMnist normalizeDigit: expected finite numbers; value ${i} is ${String(v)}`);
    }
    a[i] = v;
  }
  const forced = invert;
  let { r, noise } = residual(a, h, w);
  if (invert === null) invert = darkSideWins(r, noise);
  if (invert) {
    for (let i = 0; i < a.length; i++) { a[i] = 255 - a[i]; r[i] = -r[i]; }
  }
  if (h === SIDE && w === SIDE && isMnistLike(a, h, w)) {
    const out = new Uint8Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) out[i] = Math.min(Math.max(roundHalfEven(a[i]), 0), 255);
    return out; // already an MNIST digit: left exactly as it is
  }
  const t = NOISE_SIGMAS * noise, threshold = Math.max(BLANK_LEVELS, t);
  a = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) a[i] = Math.max(r[i] - t, 0); // light ink on black, above the background
  const peak = maxOf(a);
  if (peak <= threshold) {
    let other = -Infinity;
    for (let i = 0; i < r.length; i++) other = Math.max(other, -r[i] - t);
    if (forced !== null && other > threshold) {
      throw new NoDigitError(invert
        ? "no digit found: the image shows a light digit on a dark background, and inversion was forced"
        : "no digit found: the image shows a dark digit on a light background, and inversion was forbidden");
    }
    if (t > BLANK_LEVELS) {
      throw new NoDigitError(`no digit found: nothing stands out from the background's noise (sigma ${noise.toFixed(1)} grey levels)`);
    }
    throw new NoDigitError("no digit found: the image is blank (uniform brightness)");
  }
  const s = 255 / peak;
  for (let i = 0; i < a.length; i++) a[i] *= s;
  const inkLevel = INK_FRACTION * 255;
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (a[r * w + c] > inkLevel) {
        if (r < r0) r0 = r;
        if (r > r1) r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  const ch = r1 - r0 + 1, cw = c1 - c0 + 1;
  const crop = new Float64Array(ch * cw);
  for (let r = 0; r < ch; r++) for (let c = 0; c < cw; c++) crop[r * cw + c] = a[(r0 + r) * w + c0 + c];
  const box = fit(crop, ch, cw, BOX);
  return placeByMass(box.a, box.h, box.w, SIDE);
}

// A canvas (or ImageData) as grayscale 0-255: transparency over white, then Pillow's integer ITU-R 601-2 luma.
export function grayFromCanvas(source) {
  const img = typeof ImageData !== "undefined" && source instanceof ImageData
    ? source : source.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, source.width, source.height);
  const d = img.data, out = new Uint8Array(img.width * img.height);
  for (let i = 0, p = 0; p < out.length; i += 4, p++) {
    const alpha = d[i + 3], paper = 255 - alpha;
    const r = d[i] + Math.floor(((255 - d[i]) * paper + 127) / 255);
    const g = d[i + 1] + Math.floor(((255 - d[i + 1]) * paper + 127) / 255);
    const b = d[i + 2] + Math.floor(((255 - d[i + 2]) * paper + 127) / 255);
    out[p] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return out;
}

const EdgeMnist = { load, normalizeDigit, grayFromCanvas, simdSupported, Model, NoDigitError, SIDE, PIXELS, CLASSES };
export default EdgeMnist;
