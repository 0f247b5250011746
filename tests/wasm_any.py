"""Run a ``wasm32`` build of any generated kernel (any input and output size) in wasmtime, through the exports of
edgemnist/build/harness/wasm_glue.c. ``edgemnist.web.runtime.WasmKernel`` is the product's runtime and refuses a
model that is not 784 -> 10; the tests of other generated models use this instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_wasm(path: Path, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(N, inputs) uint8 -> ((N, outputs) int8 scores, (N,) digits, the kernel's compute path name)."""
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    ex = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(path)), []).exports(store)
    n_in, n_out = ex["em_input_size"](store), ex["em_output_size"](store)
    memory = ex["memory"]
    mem = np.ctypeslib.as_array(memory.data_ptr(store), shape=(memory.data_len(store),))
    p_in, p_out, name_at = ex["em_input"](store), ex["em_scores"](store), ex["em_path"](store)
    name = bytes(mem[name_at : name_at + int(np.argmax(mem[name_at : name_at + 64] == 0))]).decode("ascii")
    x = np.ascontiguousarray(pixels, np.uint8).reshape(-1, n_in)
    scores = np.empty((len(x), n_out), np.int8)
    digits = np.empty(len(x), np.int64)
    for i in range(len(x)):
        mem[p_in : p_in + n_in] = x[i]
        digits[i] = ex["em_predict"](store)
        scores[i] = mem[p_out : p_out + n_out].view(np.int8)
    return scores, digits, name
