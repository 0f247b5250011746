// @tensorflow/tfjs-tflite on @tensorflow/tfjs-core with the cpu backend (the page loads their UMD scripts first:
// globals tf and tflite), one thread.
export async function load(config) {
  const {tf, tflite} = globalThis;
  await tf.setBackend("cpu");
  tflite.setWasmPath(new URL("./wasm/", import.meta.url).href);
  const model = await tflite.loadTFLiteModel(config.model, {numThreads: 1});
  const dtype = config.input.dtype === "float32" ? "float32" : "int32"; // tfjs has no 8-bit tensors
  return {
    run: async (x) => {
      const input = tf.tensor(dtype === "int32" ? Int32Array.from(x) : x, [1, x.length], dtype);
      const out = model.predict(input);
      const scores = out.dataSync();
      input.dispose();
      out.dispose();
      return scores;
    },
    info: {threads: 1},
  };
}
