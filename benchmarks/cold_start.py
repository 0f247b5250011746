"""Cold start: a fresh Python process that imports edgemnist, loads one artifact and classifies one image.

    python benchmarks/cold_start.py             # median of 5 fresh processes per artifact
    python benchmarks/cold_start.py --quick     # 2 per artifact, to check the pipeline
    python benchmarks/cold_start.py --device --repeats 40   # only Predictor vs raw LiteRT on the int8 .tflite

Device start-up target: ``Predictor.load`` + the first prediction of ``model.int8.tflite`` within
``DEVICE_RATIO`` x the raw ai_edge_litert loop doing the same (median wall time of fresh processes, run
side by side), peak RSS within ``DEVICE_RSS_BYTES`` of it; the result records the ratio, the RSS delta and
whether each is met, with the load average at start and end (a busy machine makes the ratio noise).

What a device pays on every boot or every serverless call, which in-process benchmarks (``edgemnist bench``)
cannot show: interpreter start-up, imports, model load, first inference. For each artifact kind, plus
baselines (bare interpreter, numpy, the raw LiteRT and ONNX Runtime loops without edgemnist, and the Keras
path ``keras.saving.load_model(...).predict(x)``), it runs ``--repeats`` fresh processes, round-robin across
kinds so background load spreads evenly, after one untimed run of each (the OS page cache is warm: this is a
fresh *process*, not a cold disk). Wall time is measured by the parent around the child. Peak RSS is the
child's own VmHWM (``/proc/self/status``; elsewhere its ``ru_maxrss`` from ``os.wait4``): not
``getrusage(RUSAGE_CHILDREN)``, the running maximum over all children, which on Linux also counts the
pre-exec copy of this parent. Each child also reports its own import, load and
predict times. Writes ``results/cold_start.json`` and ``results/cold_start.md``. POSIX only.

Bytecode: an installed wheel has its modules compiled (pip does it at install time), so by default every child
runs with ``PYTHONPYCACHEPREFIX`` pointing at one temporary folder that the untimed warm-up runs fill, for
every kind alike (the standard library, numpy and the runtimes too). Without it, a checkout under
``PYTHONDONTWRITEBYTECODE=1`` would compile each edgemnist module from source in every timed run, a cost the
baselines, read from site-packages' own bytecode, never pay. ``--no-bytecode`` measures that case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _artifacts import add_common, ensure_artifacts, log

SCHEMA = "edgemnist.cold_start/1"
TIMEOUT_S = 300
#: Device start-up targets: Predictor / raw LiteRT wall-time ratio, and the peak-RSS difference.
DEVICE_RATIO = 1.1
DEVICE_RSS_BYTES = 5_000_000
PREDICTOR_INT8 = "Predictor: model.int8.tflite"
RAW_INT8 = "raw LiteRT: model.int8.tflite"

# Every child ends by printing one JSON line: its own phase times (ms), the predicted label and its peak RSS.
# Peak RSS is VmHWM of the child's own address space (/proc/self/status, Linux). ru_maxrss from wait4 or
# getrusage(RUSAGE_CHILDREN) would not do: on Linux it keeps the high-water mark of the pre-exec copy of the
# parent, so every child would look at least as big as this script.
_HWM = """
def _hwm():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
"""
_CLOCK = "import time, sys, json\nt0 = time.perf_counter()\n"
_REPORT = _HWM + (
    "print(json.dumps({'import_ms': (t1 - t0) * 1e3, 'load_ms': (t2 - t1) * 1e3, "
    "'predict_ms': (t3 - t2) * 1e3, 'label': label, 'vm_hwm_bytes': _hwm()}))\n"
)

PREDICTOR = (
    _CLOCK
    + """\
import numpy as np
from edgemnist.predictor import Predictor
t1 = time.perf_counter()
p = Predictor.load(sys.argv[1], threads=int(sys.argv[3]))
t2 = time.perf_counter()
label = int(p.predict(np.load(sys.argv[2], allow_pickle=False)).labels[0])
t3 = time.perf_counter()
"""
    + _REPORT
)

RAW_LITERT = (
    _CLOCK
    + """\
import numpy as np
from ai_edge_litert.interpreter import Interpreter
t1 = time.perf_counter()
ip = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[3]))
ip.allocate_tensors()
t2 = time.perf_counter()
i, o = ip.get_input_details()[0], ip.get_output_details()[0]
x = np.load(sys.argv[2], allow_pickle=False).reshape(1, 784)
ip.set_tensor(i["index"], (x.astype(np.int16) - 128).astype(np.int8))  # int8 input: scale 1/255, zero point -128
ip.invoke()
label = int(ip.get_tensor(o["index"]).argmax())
t3 = time.perf_counter()
"""
    + _REPORT
)

RAW_ORT = (
    _CLOCK
    + """\
import numpy as np
import onnxruntime as ort
t1 = time.perf_counter()
opts = ort.SessionOptions()
opts.intra_op_num_threads = int(sys.argv[3])
opts.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], sess_options=opts, providers=["CPUExecutionProvider"])
t2 = time.perf_counter()
x = np.load(sys.argv[2], allow_pickle=False).reshape(1, 784).astype(np.float32) / np.float32(255)
label = int(s.run(None, {s.get_inputs()[0].name: x})[0].argmax())
t3 = time.perf_counter()
"""
    + _REPORT
)

KERAS = (
    _CLOCK
    + """\
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[3]))
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
t1 = time.perf_counter()
m = keras.saving.load_model(sys.argv[1], compile=False, safe_mode=True)
t2 = time.perf_counter()
x = np.load(sys.argv[2], allow_pickle=False).reshape(1, 784).astype(np.float32) / np.float32(255)
label = int(m.predict(x, verbose=0).argmax())
t3 = time.perf_counter()
"""
    + _REPORT
)

BARE = "pass\n" + _HWM + "print('{\"vm_hwm_bytes\": %s}' % ('null' if _hwm() is None else _hwm()))\n"
NUMPY = "import numpy\n" + BARE


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="fresh processes per kind (default 5)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="runtime threads (default 1)")
    p.add_argument("--quick", action="store_true", help="2 repeats: checks the pipeline, not for publishing")
    p.add_argument(
        "--device",
        action="store_true",
        help="only the device start-up comparison: Predictor vs raw LiteRT on model.int8.tflite",
    )
    p.add_argument(
        "--no-bytecode",
        action="store_true",
        help="children write no bytecode (PYTHONDONTWRITEBYTECODE=1): modules without a __pycache__ "
        "are compiled from source in every run",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 2
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be positive")
    return args


def kinds(keras: Path, paths: list[Path], device_only: bool = False) -> list[dict]:
    """(name, kind, code, artifact) of every child to run."""
    out = [
        {"name": "python -c pass", "kind": "baseline", "code": BARE, "artifact": None},
        {"name": "import numpy", "kind": "baseline", "code": NUMPY, "artifact": None},
    ]
    if device_only:
        int8 = next((p for p in paths if p.name == "model.int8.tflite"), None)
        if int8 is None:
            raise SystemExit("error: no model.int8.tflite among the artifacts")
        return out + [
            {"name": PREDICTOR_INT8, "kind": "predictor", "code": PREDICTOR, "artifact": int8},
            {"name": RAW_INT8, "kind": "baseline", "code": RAW_LITERT, "artifact": int8},
        ]
    for p in [*paths, keras]:
        out.append({"name": f"Predictor: {p.name}", "kind": "predictor", "code": PREDICTOR, "artifact": p})
    by_name = {p.name: p for p in paths}
    if "model.int8.tflite" in by_name:
        out.append(
            {
                "name": "raw LiteRT: model.int8.tflite",
                "kind": "baseline",
                "code": RAW_LITERT,
                "artifact": by_name["model.int8.tflite"],
            }
        )
    if "model.int8.onnx" in by_name:
        out.append(
            {
                "name": "raw ONNX Runtime: model.int8.onnx",
                "kind": "baseline",
                "code": RAW_ORT,
                "artifact": by_name["model.int8.onnx"],
            }
        )
    out.append({"name": "Keras: load_model + predict", "kind": "baseline", "code": KERAS, "artifact": keras})
    return out


def child_env(pycache: Path | None) -> dict[str, str]:
    """The children's environment: bytecode cached under ``pycache`` (None: no bytecode written)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_child(kind: dict, image: Path, threads: int, env: dict[str, str] | None = None) -> dict:
    """Run one fresh child: parent-side wall time, the child's own peak RSS and phase times."""
    argv = [sys.executable, "-c", kind["code"], str(kind["artifact"] or ""), str(image), str(threads)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"} if env is None else env
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        timer = threading.Timer(TIMEOUT_S, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{kind['name']}: exited {proc.returncode}: {stderr[-800:]}")
    row = {"wall_ms": round(wall * 1e3, 2)}
    inner = json.loads(stdout.strip().splitlines()[-1])
    row.update({k: round(v, 2) if isinstance(v, float) else v for k, v in inner.items()})
    hwm = row.pop("vm_hwm_bytes", None)
    if hwm is not None:
        row["peak_rss_bytes"], row["peak_rss_method"] = hwm, "VmHWM of the child (/proc/self/status)"
    else:  # not Linux: the child's ru_maxrss (macOS reports bytes)
        row["peak_rss_bytes"] = int(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
        row["peak_rss_method"] = "ru_maxrss of the child (os.wait4)"
    return row


def _median(rows: list[dict], key: str):
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def summarize(kind: dict, rows: list[dict], true_label: int) -> dict:
    walls = [r["wall_ms"] for r in rows]
    return {
        "name": kind["name"],
        "kind": kind["kind"],
        "artifact": None if kind["artifact"] is None else str(kind["artifact"]),
        "runs": rows,
        "wall_ms_median": _median(rows, "wall_ms"),
        "wall_ms_min": min(walls),
        "wall_ms_max": max(walls),
        "peak_rss_bytes_median": _median(rows, "peak_rss_bytes"),
        "import_ms_median": _median(rows, "import_ms"),
        "load_ms_median": _median(rows, "load_ms"),
        "predict_ms_median": _median(rows, "predict_ms"),
        "correct": None if "label" not in rows[0] else all(r["label"] == true_label for r in rows),
    }


def device_start(results: list[dict]) -> dict | None:
    """The device start-up comparison: Predictor / raw LiteRT on the int8 .tflite, medians of the same runs."""
    by = {r["name"]: r for r in results}
    pred, raw = by.get(PREDICTOR_INT8), by.get(RAW_INT8)
    if not pred or not raw:
        return None
    ratio = pred["wall_ms_median"] / raw["wall_ms_median"]
    rss = None
    if pred["peak_rss_bytes_median"] is not None and raw["peak_rss_bytes_median"] is not None:
        rss = int(pred["peak_rss_bytes_median"] - raw["peak_rss_bytes_median"])
    # The ratio of the paired runs (each round runs both back to back) is steadier under load than the ratio
    # of two medians; both are recorded.
    paired = [p["wall_ms"] / r["wall_ms"] for p, r in zip(pred["runs"], raw["runs"], strict=False)]
    return {
        "predictor": PREDICTOR_INT8,
        "raw": RAW_INT8,
        "wall_ratio": round(ratio, 3),
        "paired_ratio_median": round(statistics.median(paired), 3) if paired else None,
        "ratio_target": DEVICE_RATIO,
        "ratio_ok": ratio <= DEVICE_RATIO,
        "rss_delta_bytes": rss,
        "rss_target_bytes": DEVICE_RSS_BYTES,
        "rss_ok": None if rss is None else rss <= DEVICE_RSS_BYTES,
    }


def markdown(result: dict) -> str:
    from edgemnist.bench.render import fmt_bytes, md_table

    m = result["machine"]
    header = ["process", "wall ms (median)", "min–max", "imports ms", "load ms", "1st predict ms", "peak RSS"]
    rows = []
    for r in result["results"]:

        def cell(key, r=r):
            return "-" if r[key] is None else f"{r[key]:.1f}"

        rows.append(
            [
                r["name"],
                cell("wall_ms_median"),
                f"{r['wall_ms_min']:.0f}–{r['wall_ms_max']:.0f}",
                cell("import_ms_median"),
                cell("load_ms_median"),
                cell("predict_ms_median"),
                fmt_bytes(r["peak_rss_bytes_median"]),
            ]
        )
    dev = result.get("device_start")
    extra = []
    if dev:
        rss = "-" if dev["rss_delta_bytes"] is None else f"{dev['rss_delta_bytes'] / 1e6:+.1f} MB"
        extra = [
            f"Device start-up: {dev['predictor']} / {dev['raw']} = {dev['wall_ratio']:.3f} "
            f"({'✓' if dev['ratio_ok'] else '✗'} target {dev['ratio_target']}; paired-run median "
            f"{dev['paired_ratio_median']}), peak RSS {rss} "
            f"({'✓' if dev['rss_ok'] else '✗'} target +{dev['rss_target_bytes'] / 1e6:.0f} MB).",
            "",
        ]
    load0, load1 = result.get("load_average_start"), result.get("load_average_end")
    return "\n".join(
        [
            "## Cold start" + (" (--quick: not for publishing)" if result["quick"] else ""),
            "",
            f"Measured {result['created']} on {m['cpu']}, {m['logical_cores']} logical cores, "
            f"{m['os']}, {m['python']}; "
            f"load average {load0} at start, {load1} at end; "
            f"median of {result['repeats']} fresh processes each (round-robin, after one untimed run), "
            f"threads {result['threads']}; bytecode: {result.get('bytecode', 'not recorded')}. Wall: parent-side, "
            f"process start to exit; phases: the child's own clock; "
            f"peak RSS: {result['results'][0]['runs'][0]['peak_rss_method']}.",
            "",
            *md_table(header, rows),
            "",
            *extra,
        ]
    )


def main(argv=None) -> int:
    import numpy as np

    from edgemnist.bench.machine import ForeignLoad, load_average, machine_info
    from edgemnist.data import load_test
    from edgemnist.fileio import atomic_write_json, atomic_write_text
    from edgemnist.manifest import now_iso

    if not hasattr(os, "wait4"):
        log("error: cold_start.py needs os.wait4 (Linux/macOS)")
        return 2
    args = parse_args(argv)
    start = time.perf_counter()
    machine = machine_info()  # load average before anything runs
    keras, paths = ensure_artifacts(args.artifacts, args.data_dir)
    images, labels = load_test(args.data_dir)
    foreign = ForeignLoad().start()  # other processes' CPU while the children run (the load average counts ours)
    todo = kinds(keras, paths, device_only=args.device)
    results = {k["name"]: [] for k in todo}
    with tempfile.TemporaryDirectory(prefix="edgemnist-cold-") as tmp:
        image = Path(tmp) / "digit.npy"
        np.save(image, images[:1], allow_pickle=False)
        env = child_env(None if args.no_bytecode else Path(tmp) / "pycache")
        for k in todo:  # one untimed run each: warms the page cache (and writes the bytecode), checks the child
            log(f"warm-up: {k['name']}")
            run_child(k, image, args.threads, env)
        for r in range(args.repeats):
            for k in todo:
                log(f"run {r + 1}/{args.repeats}: {k['name']}")
                results[k["name"]].append(run_child(k, image, args.threads, env))
    summaries = [summarize(k, results[k["name"]], int(labels[0])) for k in todo]
    result = {
        "schema": SCHEMA,
        "created": now_iso(),
        "quick": args.quick,
        "device_only": args.device,
        "repeats": args.repeats,
        "threads": args.threads,
        "machine": machine,
        "bytecode": ("not written (PYTHONDONTWRITEBYTECODE=1): modules without a __pycache__ compiled in every run")
        if args.no_bytecode
        else ("cached (PYTHONPYCACHEPREFIX), written by the warm-up runs, as an installed wheel has it"),
        "load_average_start": machine["load_average"],
        "load_average_end": load_average(),
        "foreign_load": foreign.result(),
        "image": {"split": "test", "index": 0, "label": int(labels[0])},
        "results": summaries,
        "device_start": device_start(summaries),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    wrong = [r["name"] for r in result["results"] if r["correct"] is False]
    if wrong:
        log(f"warning: wrong label from {', '.join(wrong)}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "cold_start_device" if args.device else "cold_start"  # a --device run never replaces the full table
    atomic_write_json(args.out / f"{stem}.json", result)
    atomic_write_text(args.out / f"{stem}.md", markdown(result))
    log(f"wrote {args.out / f'{stem}.json'}\nwrote {args.out / f'{stem}.md'}")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
