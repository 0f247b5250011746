"""Other browser runtimes beside edgemnist's page, for ``benchmarks/browser.py --peers``.

Each peer is an npm package at a pinned version (``PEERS``), installed with ``npm install --prefix CACHE`` into
one cache folder (default ``~/.cache/edgemnist/npm-peers``) whose ``package-lock.json`` is recorded with the
results. ``build_root`` lays out one folder that ``edgemnist.web.serve`` serves on 127.0.0.1: ``/edgemnist/``
(the exported web folder as it is) and one folder per peer holding a small page (``benchmarks/peers/harness.js``
and the peer's adapter), the runtime files it loads and the exported model with the input facts of its manifest.

The pure parts (what was installed, the per-runtime summary, the agreement with the host, the table) are
functions of recorded data, tested in ``tests/unit``.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = HERE / "peers"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgemnist" / "npm-peers"
SCHEMA = "edgemnist.browser_peers/1"
EDGEMNIST = "edgemnist"


@dataclass(frozen=True)
class Attempt:
    """One artifact a peer is given: the exported file, and what differs from edgemnist's default export."""

    artifact: str
    changed: str | None = None  # None: the artifact as exported (the same file edgemnist's own rows use)
    batch1: bool = False  # the batch dimension fixed to 1 in the served copy (``fixed_batch``)

    @property
    def served(self) -> str:
        """The file name in the peer's folder."""
        return self.artifact.replace(".tflite", ".batch1.tflite") if self.batch1 else self.artifact


@dataclass(frozen=True)
class Peer:
    """A browser runtime from npm: pinned packages, the files its page loads, the artifacts it is given in order
    (the first that loads is measured; every failure before it is recorded)."""

    name: str
    packages: tuple[tuple[str, str], ...]  # (npm package, exact version)
    adapter: str  # file in benchmarks/peers/, served as adapter.js
    files: tuple[tuple[str, str], ...]  # (path under node_modules/, path in the peer's folder); a folder is copied
    attempts: tuple[Attempt, ...]
    scripts: tuple[str, ...] = ()  # classic scripts the page loads before its module (UMD builds)
    importmap: tuple[tuple[str, str], ...] = ()  # bare specifier -> path in the peer's folder


#: What a .tflite runtime is given, smallest change first: as exported; the batch dimension fixed; float I/O (the
#: registry's other int8 export); both.
TFLITE_ATTEMPTS = (
    Attempt("model.int8.tflite"),
    Attempt("model.int8.tflite", "batch 1", batch1=True),
    Attempt("model.int8-floatio.tflite", "float I/O"),
    Attempt("model.int8-floatio.tflite", "float I/O, batch 1", batch1=True),
)
#: What the short change names in the table mean.
CHANGES = {
    "batch 1": "the batch dimension fixed to 1 in the served copy (every -1 of the tensors' shape_signature set to "
    "1; weights, ops and length byte for byte)",
    "float I/O": "`model.int8-floatio.tflite`, the registry's int8 export with float32 input and output "
    "(quantize/dequantize ops at the ends)",
}

PEERS = (
    Peer(
        name="onnxruntime-web",
        packages=(("onnxruntime-web", "1.31.1"),),
        adapter="ort.js",
        files=(
            ("onnxruntime-web/dist/ort.wasm.min.mjs", "ort.wasm.min.mjs"),
            ("onnxruntime-web/dist/ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.mjs"),
            ("onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.wasm"),
        ),
        attempts=(Attempt("model.int8.onnx"),),
    ),
    Peer(
        name="LiteRT.js",
        packages=(("@litertjs/core", "2.5.3"),),
        adapter="litert.js",
        files=(
            ("@litertjs/core/dist/index.js", "core/index.js"),
            ("@litertjs/wasm-utils/dist/index.js", "wasm-utils/index.js"),
            ("@litertjs/core/wasm", "wasm"),
        ),
        importmap=(("@litertjs/core", "./core/index.js"), ("@litertjs/wasm-utils", "./wasm-utils/index.js")),
        attempts=TFLITE_ATTEMPTS,
    ),
    Peer(
        name="tfjs-tflite",
        packages=(
            ("@tensorflow/tfjs-tflite", "0.0.1-alpha.10"),
            ("@tensorflow/tfjs-core", "4.9.0"),  # the exact version tfjs-tflite names as its peer dependency
            ("@tensorflow/tfjs-backend-cpu", "4.9.0"),
        ),
        adapter="tfjs-tflite.js",
        files=(
            ("@tensorflow/tfjs-core/dist/tf-core.min.js", "tf-core.min.js"),
            ("@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js", "tf-backend-cpu.min.js"),
            ("@tensorflow/tfjs-tflite/dist/tf-tflite.min.js", "tf-tflite.min.js"),
            ("@tensorflow/tfjs-tflite/wasm", "wasm"),
        ),
        scripts=("tf-core.min.js", "tf-backend-cpu.min.js", "tf-tflite.min.js"),
        attempts=TFLITE_ATTEMPTS,
    ),
)


def pinned() -> dict[str, str]:
    """Every npm package the peers need, at its exact version."""
    out: dict[str, str] = {}
    for peer in PEERS:
        out.update(peer.packages)
    return out


def package_json() -> dict:
    return {"name": "edgemnist-browser-peers", "private": True, "dependencies": dict(sorted(pinned().items()))}


def installed(lock: dict) -> dict[str, str]:
    """{package: version} of the pinned packages as a package-lock.json (lockfileVersion 2 or 3) records them."""
    packages = lock.get("packages")
    if not isinstance(packages, dict):
        raise ValueError("package-lock.json: expected a 'packages' object (lockfileVersion 2 or 3)")
    out = {}
    for name in pinned():
        entry = packages.get(f"node_modules/{name}")
        out[name] = entry.get("version") if isinstance(entry, dict) else None
    return out


def lock_problems(lock: dict) -> list[str]:
    """Why an installed lock does not hold the pinned versions (empty: it does)."""
    have = installed(lock)
    return [f"{n} {have[n] or 'missing'} (pinned {v})" for n, v in pinned().items() if have[n] != v]


def npm_install(cache: Path, log=print, install: bool = True) -> dict:
    """The pinned packages in ``cache`` (installed with npm unless its lock already holds them; with
    ``install=False`` a cache that does not is an error): the lock's sha256, the versions and the npm version."""
    cache.mkdir(parents=True, exist_ok=True)
    lock_path = cache / "package-lock.json"
    want = json.dumps(package_json(), indent=2) + "\n"
    current = (cache / "package.json").read_text(encoding="utf-8") if (cache / "package.json").is_file() else None
    fresh = (
        current == want
        and lock_path.is_file()
        and not lock_problems(json.loads(lock_path.read_text(encoding="utf-8")))
        and all((cache / "node_modules" / n / "package.json").is_file() for n in pinned())
    )
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found (Debian: apt-get install npm)")
    version = subprocess.run([npm, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if not fresh and not install:
        raise RuntimeError(f"{cache}: the pinned npm packages are not installed there (run without --no-install)")
    if not fresh:
        (cache / "package.json").write_text(want, encoding="utf-8")
        argv = [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--ignore-scripts"]
        log(f"installing {', '.join(f'{n}@{v}' for n, v in pinned().items())} into {cache}")
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"npm install failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    lock_text = lock_path.read_text(encoding="utf-8")
    lock = json.loads(lock_text)
    bad = lock_problems(lock)
    if bad:
        raise RuntimeError(f"{lock_path}: not the pinned versions: {', '.join(bad)}")
    return {
        "cache": str(cache),
        "npm": version,
        "packages": installed(lock),
        "lock_sha256": hashlib.sha256(lock_text.encode()).hexdigest(),
        "lock": lock,
        "installed_now": not fresh,
    }


def cache_ready(cache: Path) -> bool:
    """Whether ``cache`` holds the pinned packages (what ``npm_install(..., install=False)`` needs)."""
    try:
        lock = json.loads((cache / "package-lock.json").read_text(encoding="utf-8"))
        return not lock_problems(lock) and all(
            (cache / "node_modules" / n / "package.json").is_file() for n in pinned()
        )
    except (OSError, ValueError):
        return False


def input_facts(manifest: dict) -> dict:
    """What the page needs to feed the model, from the artifact's manifest: dtype, scale, zero point, shape."""
    t = manifest["input"]
    return {k: t.get(k) for k in ("name", "dtype", "scale", "zero_point")}


def page(peer: Peer, config: dict) -> str:
    """The peer's index.html: its classic scripts, its import map, the config and the harness module."""
    lines = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(peer.name)}</title>",
    ]
    lines.append('<link rel="icon" href="data:,">')
    if peer.importmap:
        lines.append('<script type="importmap">' + json.dumps({"imports": dict(peer.importmap)}) + "</script>")
    lines += [f'<script src="./{html.escape(s)}"></script>' for s in peer.scripts]
    lines.append(
        '<script type="application/json" id="config">' + json.dumps(config).replace("<", "\\u003c") + "</script>"
    )
    lines.append('<script type="module" src="./harness.js"></script>')
    lines += ["</head><body>", f'<p id="status">{html.escape(peer.name)}: loading</p>', "</body></html>", ""]
    return "\n".join(lines)


def build_root(root: Path, site: Path, node_modules: Path, artifacts: Path) -> dict[str, list[dict]]:
    """Lay out the served folder; returns {peer name: [{"path": folder URL path, "attempt": Attempt, ...}]}."""
    from edgemnist.manifest import read_manifest

    shutil.copytree(site, root / EDGEMNIST)
    out: dict[str, list[dict]] = {}
    for peer in PEERS:
        runtime = root / "_runtime" / slug(peer.name)
        for src, dest in peer.files:
            target = runtime / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (node_modules / src).is_dir() else shutil.copyfile)(node_modules / src, target)
        out[peer.name] = []
        for i, attempt in enumerate(peer.attempts):
            folder = root / f"{slug(peer.name)}-{i}"
            shutil.copytree(runtime, folder)
            artifact = artifacts / attempt.artifact
            manifest = read_manifest(artifact, required=True)
            data = artifact.read_bytes()
            (folder / attempt.served).write_bytes(fixed_batch(data, str(artifact)) if attempt.batch1 else data)
            shutil.copyfile(PAGES / "harness.js", folder / "harness.js")
            shutil.copyfile(PAGES / peer.adapter, folder / "adapter.js")
            config = {"runtime": peer.name, "model": f"./{attempt.served}", "input": input_facts(manifest)}
            (folder / "index.html").write_text(page(peer, config), encoding="utf-8")
            out[peer.name].append({"path": f"/{folder.name}/", "attempt": attempt})
        shutil.rmtree(runtime)
    shutil.rmtree(root / "_runtime", ignore_errors=True)
    return out


def fixed_batch(data: bytes, origin: str) -> bytes:
    """The .tflite ``data`` with every -1 (a dynamic dimension) in its tensors' ``shape_signature`` set to 1, in
    place: same length, same weights and ops; the runtime then sees a fixed batch of one."""
    import struct

    from edgemnist.flatbuffer import _Reader
    from edgemnist.modelfacts import parse_facts

    parse_facts(data, origin)  # a well-formed model of this network, or ArtifactError
    r, out = _Reader(data, origin), bytearray(data)
    model = r.table(r.scalar("<I", 0, "root offset"), "model")
    for sub in r.tables(model, 2, "subgraphs", required=True):  # Model.subgraphs
        for t in r.tables(sub, 0, "tensors", required=True):  # SubGraph.tensors
            first, n = r.vector(t, 7, 4, "tensor.shape_signature")  # Tensor.shape_signature
            for i in range(n):
                if struct.unpack_from("<i", data, first + 4 * i)[0] == -1:
                    struct.pack_into("<i", out, first + 4 * i, 1)
    return bytes(out)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


# ============================================================================== pure: summaries and the table


def agreement(labels, reference, truth) -> dict:
    """Top-1 agreement of a runtime's labels with the host reference's, and its accuracy, on the same images."""
    n = len(reference)
    if len(labels) != n or len(truth) != n or n == 0:
        raise ValueError(f"expected as many labels as reference images ({n}); got {len(labels)} and {len(truth)}")
    same = sum(int(a) == int(b) for a, b in zip(labels, reference, strict=True))
    right = sum(int(a) == int(b) for a, b in zip(labels, truth, strict=True))
    return {"images": n, "agree": same, "agreement": same / n, "accuracy": right / n}


def page_bytes(files: list[dict]) -> dict:
    """Bodies and headers of a cold load's responses, as Chromium counted them."""
    bodies = sum(f["body"] for f in files)
    return {"files": len(files), "body_bytes": bodies, "total_bytes": bodies + sum(f["headers"] for f in files)}


def _us(x) -> str:
    return "-" if x is None else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def table(record: dict) -> tuple[list[str], list[list[str]]]:
    """One row per runtime and artifact tried: failures say why, measured rows their figures and ratios to
    edgemnist's page (same Chromium, same images, same timer)."""
    header = [
        "runtime",
        "version",
        "artifact",
        "transferred",
        "first prediction",
        "p50 µs",
        "p99 µs",
        "loop mean µs",
        "× edgemnist p50",
        f"top-1 agrees with {record['reference']['name']}",
    ]
    rows = []
    base = next((r for r in record["runtimes"] if r["runtime"] == EDGEMNIST and r.get("latency")), None)
    for r in record["runtimes"]:
        artifact = f"`{r['artifact']}`" + (f" ({r['changed']})" if r.get("changed") else "")
        if r.get("error"):
            rows.append([r["runtime"], r["version"], artifact, "**fails to load**: " + r["error"], *[""] * 6])
            continue
        lat, agree, cold = r["latency"], r["agreement"], r["cold"]
        ratio = "-"
        if base and r is not base and lat["p50_us"] and base["latency"]["p50_us"]:
            ratio = f"{lat['p50_us'] / base['latency']['p50_us']:.1f}×"
        rows.append(
            [
                r["runtime"],
                r["version"],
                artifact,
                f"{cold['total_bytes']:,} B ({cold['files']} files)",
                f"{cold['first_prediction_ms_median']:.0f} ms",
                _us(lat["p50_us"]),
                _us(lat["p99_us"]),
                _us(lat["loop_mean_us"]),
                ratio,
                f"{agree['agree']:,}/{agree['images']:,} ({agree['agreement']:.2%})",
            ]
        )
    return header, rows


def markdown(record: dict) -> str:
    from edgemnist.bench.render import md_table

    m, ref = record["machine"], record["reference"]
    fl = (record.get("foreign_load") or {}).get("foreign_cores")
    pkgs = ", ".join(f"{n} {v}" for n, v in record["npm"]["packages"].items())
    lines = [
        "## Browser runtimes side by side",
        "",
        f"Measured {record['created']} on {m['cpu']}, {m['logical_cores']} logical cores, {record['chromium']} "
        f"headless (Playwright {record['playwright']}), one browser for every runtime, each served from 127.0.0.1 by "
        f"`edgemnist.web.serve` with COOP/COEP (timer step {record['timer_step_us']:.1f} µs); load average "
        f"{record['loadavg_before'][0]:.2f} before, {record['loadavg_after'][0]:.2f} after; other processes used "
        f"{'?' if fl is None else f'{fl:.2f}'} cores meanwhile. npm {record['npm']['npm']}: {pkgs} "
        f"(package-lock sha256 {record['npm']['lock_sha256'][:12]}, in `{record['lock_file']}`). "
        f"Command: `{record['command']}`.",
        "",
        *md_table(*table(record)),
        "",
        "Artifacts: as exported unless the row says what changed: "
        + "; ".join(f"*{k}*: {v}" for k, v in CHANGES.items())
        + ". A runtime is measured on the first of these that loads, and every failure before it is listed.",
        "",
        f"Transferred: every response of a cold load (new browser context, empty cache) until the first prediction, "
        f"bodies and headers, uncompressed; first prediction: `performance.now()` from navigation start to the first "
        f"answer (each page classifies one blank image as soon as it can), median of {record['runs']} cold loads. "
        f"Per inference: the first {ref['images']:,} MNIST test images, batch 1, one thread, through each runtime's "
        f"own JS API (edgemnist: `model.predict`; the others: their tensor in, scores out, argmax, as the page "
        f"`benchmarks/peers/harness.js` does), each call timed alone after {record['warmup']:,} warm-up calls; "
        f"nearest-rank percentiles (`edgemnist.bench.timing`), in steps of the timer; "
        f"the ratio column divides p50 by edgemnist's p50 "
        f"(the median shrugs off the stalls a busy machine adds; the loop mean, total time / calls of one untimed "
        f"pass, is free of the timer's steps but not of those stalls). "
        f"Top-1 agreement: the same images' labels from "
        f"{ref['name']} ({ref['how']}).",
        "",
    ]
    return "\n".join(lines)
