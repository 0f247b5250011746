// The peer runtimes' page: one adapter module (./adapter.js) loads the runtime and the model, the page classifies
// one blank image, then records when that first prediction returned (performance.now(), zero = navigation start).
// benchmarks/browser.py --peers times window.peer.predict on the MNIST test images.
import {load} from "./adapter.js";

const config = JSON.parse(document.getElementById("config").textContent);

// MNIST pixels (uint8) to the model's input: x / 255, quantized with the input tensor's own scale and zero point
// when the model takes integers (config.input comes from the artifact's manifest).
export function preprocess(pixels, input) {
  const n = pixels.length;
  if (input.dtype === "float32") {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = pixels[i] / 255;
    return x;
  }
  const [lo, hi, Typed] = input.dtype === "int8" ? [-128, 127, Int8Array] : [0, 255, Uint8Array];
  const x = new Typed(n);
  for (let i = 0; i < n; i++) {
    const q = Math.round(pixels[i] / 255 / input.scale) + input.zero_point;
    x[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return x;
}

function argmax(scores) {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

try {
  const model = await load(config);
  const predict = async (pixels) => argmax(await model.run(preprocess(pixels, config.input)));
  await predict(new Uint8Array(784));
  document.body.dataset.firstPrediction = String(performance.now());
  window.peer = {predict, info: model.info || {}};
  document.body.dataset.ready = "1";
} catch (e) {
  document.body.dataset.failed = String(e && e.message ? e.message : e);
  document.getElementById("status").textContent = "failed: " + document.body.dataset.failed;
}
