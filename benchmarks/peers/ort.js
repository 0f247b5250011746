// onnxruntime-web, wasm execution provider, one thread.
import * as ort from "./ort.wasm.min.mjs";

export async function load(config) {
  ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href;
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(config.model, {executionProviders: ["wasm"]});
  const [input] = session.inputNames, [output] = session.outputNames;
  const type = {float32: "float32", int8: "int8", uint8: "uint8"}[config.input.dtype];
  return {
    run: async (x) => (await session.run({[input]: new ort.Tensor(type, x, [1, x.length])}))[output].data,
    info: {threads: ort.env.wasm.numThreads},
  };
}
