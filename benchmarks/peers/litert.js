// LiteRT.js (@litertjs/core), its wasm accelerator, the single-threaded build.
import {loadLiteRt, loadAndCompile, Tensor} from "@litertjs/core";

export async function load(config) {
  await loadLiteRt(new URL("./wasm/", import.meta.url).href, {threads: false});
  const model = await loadAndCompile(config.model, {accelerator: "wasm", numThreads: 1});
  return {
    run: async (x) => {
      const input = new Tensor(x, [1, x.length]);
      const [out] = await model.run(input);
      const scores = out.toTypedArray().slice();
      input.delete();
      out.delete();
      return scores;
    },
    info: {threads: 1},
  };
}
