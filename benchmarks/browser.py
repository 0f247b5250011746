"""The browser target measured in headless Chromium: page weight, navigation to first prediction, per-inference
latency of the SIMD and scalar wasm builds.

    python benchmarks/browser.py --site export/web            # an exported web folder
    python benchmarks/browser.py --kernel edgemnist_model.c   # or build one from a generated C kernel
    python benchmarks/browser.py --site export/web --quick    # fewer runs, to check the pipeline
    python benchmarks/browser.py --render-only                # results/browser.md again from browser.json
    python benchmarks/browser.py --peers                      # beside onnxruntime-web, LiteRT.js, tfjs-tflite
    python benchmarks/browser.py --peers --install-only       # only install their pinned npm packages

``--peers`` (``benchmarks/_peers.py``): the pinned npm packages installed with ``npm install --prefix`` into a cache
folder, edgemnist's exported page and one page per peer runtime served from one folder on 127.0.0.1, all measured
in one Chromium (round-robin cold loads, each in a new context): bytes transferred, time to first prediction,
batch-1 latency on the same test images with the same timer, top-1 agreement with the int8 .tflite on the host.
A runtime that cannot load an artifact is recorded with its error and given the next smallest re-export. Writes
``results/browser_peers.json``, ``results/browser_peers.md`` and ``results/browser_peers.package-lock.json``.

How (Chromium found and started by ``edgemnist.web.browser.launch``: ``$EDGEMNIST_CHROMIUM`` or Debian's
``chromium`` on PATH, through Playwright, fresh profile, the folder served by ``edgemnist.web.serve`` on
127.0.0.1 with COOP/COEP, so the page is cross-origin isolated and ``performance.now()`` ticks in 5 us):

- page weight: every response of a cold load (new browser context, empty cache) until the page is ready, body and
  header bytes as Chromium counts them; nothing is compressed (the server sends files as they are).
- navigation to first prediction: ``performance.now()`` (zero = navigation start) when the page's first
  ``model.predict`` returned (the page's warm-up call right after ``EdgeMnist.load``); median of ``--runs`` cold
  loads, each in a new context.
- per inference: ``model.predict`` through the JS API on the MNIST test images (``--images``), each call timed
  on its own with ``performance.now()`` after ``--warmup`` untimed calls, for the SIMD and the scalar build;
  nearest-rank p50/p90/p99 (``edgemnist.bench.timing``, as ``edgemnist bench``) and the loop mean (total
  time / calls, free of the timer's 5 us steps).
- the machine (``edgemnist.bench.machine``): CPU, cores, load average before and after, the CPU other processes
  used meanwhile, Chromium and Playwright versions.

Writes ``results/browser.json``, ``results/browser.md`` and the screenshot ``results/web.png`` (docs/web.md).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SCHEMA = "edgemnist.browser/1"
TARGETS = {"page_weight_bytes": 450_000, "first_prediction_ms": 300.0, "simd_p50_us": 40.0}

TIME_ALL = """async ([b64, simd, warmup]) => {
  const EdgeMnist = (await import("./edgemnist.js")).default;
  const model = await EdgeMnist.load("./", {simd});
  const bin = atob(b64), raw = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) raw[i] = bin.charCodeAt(i);
  const n = raw.length / 784, inputs = [];
  for (let i = 0; i < n; i++) inputs.push(raw.subarray(i * 784, (i + 1) * 784));
  for (let i = 0; i < warmup; i++) model.predict(inputs[i % n]);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    model.predict(inputs[i]);
    times[i] = performance.now() - t0;
  }
  const l0 = performance.now();
  for (let i = 0; i < n; i++) model.predict(inputs[i]);
  const loop = performance.now() - l0;
  let tick = Infinity;
  for (let i = 0; i < 2000; i++) {
    const a = performance.now();
    let b = a;
    while (b === a) b = performance.now();
    tick = Math.min(tick, b - a);
  }
  return {build: model.build, kernelPath: model.kernelPath, times: Array.from(times), loopMs: loop,
          tickMs: tick, isolated: crossOriginIsolated};
}"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write results/browser.md again from the existing browser.json",
    )
    src.add_argument("--site", type=Path, metavar="DIR", help="an exported web folder (edgemnist export --format web)")
    src.add_argument("--kernel", type=Path, metavar="C", help="a generated edgemnist_model.c (its .h beside it)")
    src.add_argument(
        "--peers",
        action="store_true",
        help="edgemnist's page beside onnxruntime-web, LiteRT.js and tfjs-tflite (pinned npm packages) on the "
        "artifacts in --artifacts: bytes, first prediction, latency, top-1 agreement with the host",
    )
    p.add_argument(
        "--artifacts",
        type=Path,
        default=REPO / "benchmarks" / "artifacts",
        metavar="DIR",
        help="--peers: the exported artifacts and web/ (missing ones are trained/exported there)",
    )
    p.add_argument(
        "--install-only",
        action="store_true",
        help="--peers: install the pinned npm packages into the cache, measure nothing",
    )
    p.add_argument(
        "--no-install",
        action="store_true",
        help="--peers: never run npm install; the cache must already hold the pinned packages",
    )
    p.add_argument(
        "--npm-cache",
        type=Path,
        metavar="DIR",
        help="--peers: where the pinned npm packages are installed (default ~/.cache/edgemnist/npm-peers)",
    )
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", metavar="DIR")
    p.add_argument("--runs", type=int, default=7, help="cold page loads (default 7)")
    p.add_argument("--images", type=int, default=10_000, help="test images timed per build (default 10000)")
    p.add_argument("--warmup", type=int, default=1_000, help="untimed calls before timing (default 1000)")
    p.add_argument("--data-dir", metavar="DIR", help="MNIST folder (default: $EDGEMNIST_DATA_DIR or the cache)")
    p.add_argument("--quick", action="store_true", help="2 runs, 1000 images, 200 warm-up calls")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.images, args.warmup = 2, 1_000, 200
    if args.runs < 1 or args.images < 1 or args.warmup < 0:
        p.error("--runs and --images must be positive, --warmup not negative")
    return args


def cold_load(browser, url: str, origin: str) -> dict:
    """One cold load in a new context: every response's size, and the first-prediction time the page records."""
    context = browser.new_context(viewport={"width": 900, "height": 760})
    page = context.new_page()
    errors, finished, offsite = [], [], []
    # Requests are observed, not routed: interception would add a round trip to this process to every request.
    page.on("request", lambda r: r.url.startswith(origin) or r.url.startswith("data:") or offsite.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfinished", lambda r: finished.append(r))
    page.goto(url)
    page.wait_for_selector("body[data-first-prediction]", timeout=60_000)
    first = float(page.evaluate("document.body.dataset.firstPrediction"))
    nav = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"
    )
    files = []
    for req in finished:
        sizes = req.sizes()
        files.append(
            {
                "url": req.url[len(origin) - 1 :],
                "body": sizes["responseBodySize"],
                "headers": sizes["responseHeadersSize"],
            }
        )
    context.close()
    if errors or offsite:
        raise RuntimeError(f"console errors {errors} / requests off 127.0.0.1 {offsite}")
    return {"first_prediction_ms": first, "navigation": nav, "files": files}


def screenshot(browser, url: str, path: Path) -> None:
    """The page in use for the README: a 3 drawn with the mouse."""
    context = browser.new_context(viewport={"width": 900, "height": 700}, device_scale_factor=1)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    x0, y0, w, h = page.evaluate(
        "() => { const p = document.getElementById('pad'), r = p.getBoundingClientRect();"
        " return [r.left + p.clientLeft, r.top + p.clientTop, p.clientWidth,"
        " p.clientHeight]; }"
    )
    three = [
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
    page.mouse.move(x0 + three[0][0] * w, y0 + three[0][1] * h)
    page.mouse.down()
    for x, y in three[1:]:
        page.mouse.move(x0 + x * w, y0 + y * h, steps=6)
    page.mouse.up()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.locator("#pad").blur()
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    context.close()


@contextlib.contextmanager
def _server_process(site: Path, quiet: bool = False):
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgemnist.web.serve", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])},
    )
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the server did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def summarize(times_ms: list[float], loop_ms: float) -> dict:
    """Per-call statistics in µs, by the bench's own rules (nearest rank; p99 needs 100 calls, else None)."""
    import numpy as np

    from edgemnist.bench.timing import Stats

    st = Stats.of(np.asarray(times_ms, dtype=np.float64) * 1e6)  # ns in, ms out

    def us(ms):
        return None if ms is None else round(ms * 1000, 3)

    return {
        "calls": st.runs,
        "p50_us": us(st.p50),
        "p90_us": us(st.p90),
        "p99_us": us(st.p99),
        "max_us": us(st.max),
        "mean_us": us(st.mean),
        "loop_mean_us": 1000 * loop_ms / st.runs,
        "percentiles": "nearest rank",
    }


def render_md(r: dict) -> str:
    m, w, f = r["machine"], r["page_weight"], r["first_prediction"]
    s, c = r["latency"]["simd"], r["latency"]["scalar"]
    ok = r["targets_met"]
    mark = {True: "yes", False: "**no**"}
    lines = [
        "## Browser (WebAssembly)",
        "",
        f"Measured {r['created']} on {m['cpu']}, {m['logical_cores']} logical cores, {r['chromium']} headless "
        f"(Playwright {r['playwright']}), the folder served by `edgemnist.web.serve` (what `edgemnist serve` runs) on "
        f"127.0.0.1 with COOP/COEP "
        f"(cross-origin isolated: {r['isolated']}, timer step {r['timer_step_us']:.1f} µs); load average "
        f"{r['loadavg_before'][0]:.2f} before, {r['loadavg_after'][0]:.2f} after (Chromium's own work included); "
        f"other processes used {(r.get('foreign_load') or {}).get('foreign_cores', float('nan')):.2f} cores meanwhile. "
        f"Command: `{r['command']}`.",
        "",
        "| figure | edgemnist web | target | met |",
        "| --- | ---: | ---: | :---: |",
        f"| page weight, everything, uncompressed | {w['total_bytes']:,} B ({w['body_bytes']:,} B bodies, "
        f"{len(w['files'])} files) | < {TARGETS['page_weight_bytes']:,} B | {mark[ok['page_weight']]} |",
        f"| same, gzip -9 of the bodies (not served so) | {w['gzip_bytes']:,} B | | |",
        f"| navigation → first prediction (median of {f['runs']} cold loads) | {f['median_ms']:.0f} ms "
        f"(min {f['min_ms']:.0f}, max {f['max_ms']:.0f}) | < {TARGETS['first_prediction_ms']:.0f} ms | "
        f"{mark[ok['first_prediction']]} |",
        f"| per inference, SIMD build, p50 / p99 | {s['p50_us']:.0f} / {s['p99_us']:.0f} µs "
        f"(loop mean {s['loop_mean_us']:.1f} µs) | p50 < {TARGETS['simd_p50_us']:.0f} µs | {mark[ok['simd_p50']]} |",
        f"| per inference, scalar build, p50 / p99 | {c['p50_us']:.0f} / {c['p99_us']:.0f} µs "
        f"(loop mean {c['loop_mean_us']:.1f} µs) | | |",
        "",
        f"Per inference: {s['calls']:,} MNIST test images through `model.predict` (JS API, batch 1, one thread), "
        f"each call timed alone after {r['warmup']:,} warm-up calls. Files of the cold load: "
        + ", ".join(f"`{x['url']}` {x['body']:,} B" for x in w["files"])
        + ".",
        "",
    ]
    return "\n".join(lines)


PEER_TIME = """async ([b64, warmup]) => {
  let predict = window.peer && window.peer.predict;
  if (!predict) {  // edgemnist's own page: its JS API
    const EdgeMnist = (await import("./edgemnist.js")).default;
    const model = await EdgeMnist.load("./");
    predict = (x) => model.predict(x).label;
  }
  const bin = atob(b64), raw = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) raw[i] = bin.charCodeAt(i);
  const n = raw.length / 784, inputs = [];
  for (let i = 0; i < n; i++) inputs.push(raw.subarray(i * 784, (i + 1) * 784));
  for (let i = 0; i < warmup; i++) { const r = predict(inputs[i % n]); if (r instanceof Promise) await r; }
  const times = new Float64Array(n), labels = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let r = predict(inputs[i]);
    if (r instanceof Promise) r = await r;
    times[i] = performance.now() - t0;
    labels[i] = r;
  }
  const l0 = performance.now();
  for (let i = 0; i < n; i++) { const r = predict(inputs[i]); if (r instanceof Promise) await r; }
  const loop = performance.now() - l0;
  let tick = Infinity;
  for (let i = 0; i < 2000; i++) {
    const a = performance.now();
    let b = a;
    while (b === a) b = performance.now();
    tick = Math.min(tick, b - a);
  }
  return {times: Array.from(times), labels, loopMs: loop, tickMs: tick, isolated: crossOriginIsolated,
          info: (window.peer && window.peer.info) || {}};
}"""


def peer_cold_load(browser, url: str, origin: str) -> dict:
    """One cold load of a runtime's page in a new context (empty cache, fresh profile): every response's size
    and the first-prediction time, or why the page did not get there (``error``)."""
    context = browser.new_context()
    page = context.new_page()
    errors, finished, offsite = [], [], []
    local = (origin, "data:", "blob:" + origin.rstrip("/"))
    page.on("request", lambda r: r.url.startswith(local) or offsite.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfinished", lambda r: finished.append(r))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} for {r.url[len(origin) - 1 :]}"))
    try:
        page.goto(url)
        page.wait_for_selector("body[data-first-prediction], body[data-failed]", timeout=60_000)
        failed = page_said = page.evaluate("document.body.dataset.failed || null")
        first = None if failed else float(page.evaluate("document.body.dataset.firstPrediction"))
    except Exception as exc:  # a page that never answers is a result too: recorded, not raised
        failed, first, page_said = f"{type(exc).__name__}: {str(exc).splitlines()[0]}", None, None
    files = [
        {
            "url": r.url[len(origin) - 1 :],
            "body": r.sizes()["responseBodySize"],
            "headers": r.sizes()["responseHeadersSize"],
        }
        for r in finished
        if r.url.startswith(origin)  # blob: and data: URLs are not transfers
    ]
    context.close()
    if offsite:
        failed = f"asked for {offsite[:3]} off 127.0.0.1"
    if failed and errors and not page_said:
        failed = f"{failed} (console: {errors[0][:300]})"
    out = {"first_prediction_ms": first, "files": files}
    if failed:
        out["error"] = failed[:600]
    elif errors:
        out["console_errors"] = errors[:5]
    return out


def peer_times(browser, url: str, b64: str, warmup: int) -> dict:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("body[data-ready]", timeout=60_000)
        return page.evaluate(PEER_TIME, [b64, warmup])
    finally:
        context.close()


def host_reference(artifacts: Path, images) -> tuple[dict, list[int]]:
    """Labels of the int8 .tflite on the host (LiteRT through the Predictor) for the same images."""
    from importlib import metadata

    from edgemnist.predictor import Predictor

    path = artifacts / "model.int8.tflite"
    labels = Predictor.load(path, threads=1).predict(images.reshape(-1, 28, 28)).labels
    how = f"`{path.name}` through `Predictor` on ai-edge-litert {metadata.version('ai-edge-litert')}"
    return {"name": "LiteRT on the host", "how": how, "artifact": path.name}, [int(x) for x in labels]


def run_peers(args, argv) -> int:
    """edgemnist's page and every peer runtime in one headless Chromium: see benchmarks/_peers.py."""
    import _peers
    import numpy as np
    from _artifacts import ensure_artifacts
    from playwright.sync_api import sync_playwright

    from edgemnist.bench.machine import ForeignLoad, load_average, machine_info
    from edgemnist.data import load_mnist
    from edgemnist.fileio import atomic_write_json, atomic_write_text
    from edgemnist.web.browser import launch

    try:
        npm = _peers.npm_install(args.npm_cache or _peers.DEFAULT_CACHE, log=log, install=not args.no_install)
    except RuntimeError as exc:
        log(f"error: {exc}")
        return 2
    if args.install_only:
        log(f"{npm['cache']}: {', '.join(f'{n} {v}' for n, v in npm['packages'].items())}")
        return 0
    needed = {a.artifact for peer in _peers.PEERS for a in peer.attempts} | {"model.int8.tflite", "web/index.html"}
    if any(not (args.artifacts / name).is_file() for name in needed):
        ensure_artifacts(args.artifacts, args.data_dir)
    site = args.artifacts / "web"
    if not (site / "index.html").is_file():
        raise SystemExit(f"error: {site}: no exported web folder (edgemnist export --format web)")
    data = load_mnist(args.data_dir)
    images = data.test_images[: args.images].reshape(-1, 784)
    truth = [int(x) for x in data.test_labels[: args.images]]
    reference, ref_labels = host_reference(args.artifacts, images)
    reference["images"] = len(images)
    b64 = base64.b64encode(np.ascontiguousarray(images).tobytes()).decode()
    from importlib import metadata

    loadavg_before = load_average()
    foreign = ForeignLoad().start()
    foreign.watch_descendants()
    with tempfile.TemporaryDirectory(prefix="edgemnist-peers-") as tmp:
        root = Path(tmp) / "root"
        layout = _peers.build_root(root, site, Path(npm["cache"]) / "node_modules", args.artifacts)
        entries = [
            {
                "runtime": _peers.EDGEMNIST,
                "version": metadata.version("edgemnist"),
                "path": f"/{_peers.EDGEMNIST}/",
                "artifact": "edgemnist_model.wasm",
                "changed": None,
                "ready": "body[data-first-prediction]",
            }
        ]
        for peer in _peers.PEERS:
            for spot in layout[peer.name]:
                entries.append(
                    {
                        "runtime": peer.name,
                        "version": npm["packages"][peer.packages[0][0]],
                        "path": spot["path"],
                        "artifact": spot["attempt"].served,
                        "changed": spot["attempt"].changed,
                        "peer": peer.name,
                    }
                )
        with _server_process(root, quiet=True) as url, sync_playwright() as pw:
            origin = url
            browser = launch(pw)
            version = browser.version
            log(f"serving {root} at {url}; Chromium {version}")
            loads = {e["path"]: [] for e in entries}
            for i in range(args.runs):  # round-robin, so a change in machine load reaches every runtime alike
                for e in entries:
                    peer_done = any(x.get("ok") for x in entries if x is not e and x.get("peer") == e.get("peer"))
                    if e.get("error") or e.get("dropped") or (i == 0 and e.get("peer") and peer_done):
                        e.setdefault("dropped", not e.get("error"))  # a peer is measured on its first that loads
                        continue
                    got = peer_cold_load(browser, url + e["path"].lstrip("/"), origin)
                    loads[e["path"]].append(got)
                    log(
                        f"cold load {i + 1}/{args.runs} {e['runtime']} {e['artifact']}: "
                        + (got.get("error") or f"first prediction {got['first_prediction_ms']:.1f} ms")
                    )
                    e["error" if got.get("error") else "ok"] = got.get("error") or True
            entries = [e for e in entries if not e.get("dropped")]
            rows, meta = [], {}
            for e in entries:
                row = {k: e[k] for k in ("runtime", "version", "artifact", "changed")}
                if e.get("error"):
                    rows.append({**row, "error": e["error"]})
                    continue
                got = peer_times(browser, url + e["path"].lstrip("/"), b64, args.warmup)
                meta = got
                firsts = [x["first_prediction_ms"] for x in loads[e["path"]]]
                row["cold"] = {
                    **_peers.page_bytes(loads[e["path"]][0]["files"]),
                    "runs": len(firsts),
                    "first_prediction_ms": firsts,
                    "first_prediction_ms_median": statistics.median(firsts),
                    "urls": [f["url"] for f in loads[e["path"]][0]["files"]],
                }
                row["latency"] = summarize(got["times"], got["loopMs"])
                row["agreement"] = _peers.agreement(got["labels"], ref_labels, truth)
                row["info"] = got.get("info") or {}
                rows.append(row)
                log(
                    f"{e['runtime']} {e['artifact']}: p50 {row['latency']['p50_us']} us, "
                    f"agreement {row['agreement']['agreement']:.2%}"
                )
            foreign.note_descendants()
            browser.close()
    lock_file = args.out / "browser_peers.package-lock.json"
    record = {
        "schema": _peers.SCHEMA,
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "command": "python benchmarks/browser.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_info(),
        "chromium": f"Chromium {version}",
        "playwright": metadata.version("playwright"),
        "isolated": meta.get("isolated"),
        "timer_step_us": 1000 * meta.get("tickMs", float("nan")),
        "loadavg_before": loadavg_before,
        "loadavg_after": load_average(),
        "foreign_load": foreign.result(),
        "runs": args.runs,
        "warmup": args.warmup,
        "npm": {k: v for k, v in npm.items() if k not in ("lock", "cache", "installed_now")},
        "lock_file": Path(os.path.relpath(lock_file, REPO)).as_posix()
        if lock_file.is_relative_to(REPO)
        else str(lock_file),
        "reference": reference,
        "runtimes": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(lock_file, npm["lock"])
    atomic_write_json(args.out / "browser_peers.json", record)
    atomic_write_text(args.out / "browser_peers.md", _peers.markdown(record))
    print(_peers.markdown(record))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.peers:
        return run_peers(args, argv)
    if args.render_only:
        record = json.loads((args.out / "browser.json").read_text(encoding="utf-8"))
        (args.out / "browser.md").write_text(render_md(record), encoding="utf-8")
        log(f"wrote {args.out / 'browser.md'} from {args.out / 'browser.json'}")
        return 0
    from playwright.sync_api import sync_playwright

    from edgemnist.bench.machine import ForeignLoad, load_average, machine_info
    from edgemnist.data import load_mnist
    from edgemnist.web.browser import launch

    loadavg_before = load_average()
    foreign = ForeignLoad().start()  # other processes' CPU meanwhile (the load average counts ours and Chromium's)
    foreign.watch_descendants()  # Chromium's processes are the Playwright driver's children, not ours
    with tempfile.TemporaryDirectory(prefix="edgemnist-browser-") as tmp:
        site = args.site
        if site is None:
            from edgemnist.web.site import build_site

            site = build_site(args.kernel, Path(tmp) / "web", {"format": "web", "quantization": "int8"})
        images = load_mnist(args.data_dir).test_images[: args.images].reshape(-1, 784)
        b64 = base64.b64encode(images.tobytes()).decode()
        # The server runs in its own process, so its answers do not wait for this one's GIL (Playwright's events).
        with _server_process(site) as url, sync_playwright() as pw:
            server = argparse.Namespace(url=url)
            browser = launch(pw)
            log(f"serving {site} at {server.url}; {browser.version}")
            loads = []
            for i in range(args.runs):
                loads.append(cold_load(browser, server.url, server.url))
                log(f"cold load {i + 1}/{args.runs}: first prediction {loads[-1]['first_prediction_ms']:.1f} ms")
            context = browser.new_context()
            page = context.new_page()
            page.goto(server.url)
            page.wait_for_selector("body[data-ready]")
            latency, meta = {}, {}
            for simd in (True, False):
                got = page.evaluate(TIME_ALL, [b64, simd, args.warmup])
                latency[got["build"]] = {**summarize(got["times"], got["loopMs"]), "kernel_path": got["kernelPath"]}
                meta = got
                log(
                    f"{got['build']}: p50 {latency[got['build']]['p50_us']:.1f} us, "
                    f"loop mean {latency[got['build']]['loop_mean_us']:.1f} us"
                )
            context.close()
            screenshot(browser, server.url, args.out / "web.png")
            version = browser.version
            foreign.note_descendants()  # Chromium and the Playwright driver: our work, but not our waited children
            browser.close()
        files = loads[0]["files"]
        bodies = sum(f["body"] for f in files)
        gz = 0
        for f in files:
            path = Path(site) / f["url"].lstrip("/").split("?")[0]
            if path.is_dir() or not f["url"].strip("/"):
                path = Path(site) / "index.html"
            gz += len(gzip.compress(path.read_bytes(), 9, mtime=0))
    firsts = [x["first_prediction_ms"] for x in loads]
    from importlib import metadata

    result = {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "command": "python benchmarks/browser.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_info(),
        "chromium": f"Chromium {version}",
        "playwright": metadata.version("playwright"),
        "isolated": meta.get("isolated"),
        "timer_step_us": 1000 * meta.get("tickMs", float("nan")),
        "loadavg_before": loadavg_before,
        "loadavg_after": load_average(),
        "foreign_load": foreign.result(),
        "warmup": args.warmup,
        "page_weight": {
            "files": files,
            "body_bytes": bodies,
            "total_bytes": bodies + sum(f["headers"] for f in files),
            "gzip_bytes": gz,
        },
        "first_prediction": {
            "runs": len(firsts),
            "values_ms": firsts,
            "median_ms": statistics.median(firsts),
            "min_ms": min(firsts),
            "max_ms": max(firsts),
        },
        "latency": latency,
        "targets": TARGETS,
    }
    result["targets_met"] = {
        "page_weight": result["page_weight"]["total_bytes"] < TARGETS["page_weight_bytes"],
        "first_prediction": result["first_prediction"]["median_ms"] < TARGETS["first_prediction_ms"],
        "simd_p50": latency["simd"]["p50_us"] < TARGETS["simd_p50_us"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "browser.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "browser.md").write_text(render_md(result), encoding="utf-8")
    print(render_md(result))
    return 0


if __name__ == "__main__":
    t = time.perf_counter()
    code = main()
    log(f"{time.perf_counter() - t:.1f} s")
    sys.exit(code)
