"""The corruption corpus: every kind of file edgemnist reads, damaged every way a flaky link, a cut download,
a user or a liar can damage it, answered with a clean error and never a crash.

The corpus is generated here (never committed) from the session's real artifacts: zero-length files,
truncations at several offsets, bit flips in headers and bodies, wrong files under the right suffix,
manifests that lie, corrupt MNIST files and hostile images. Cases run in child processes, many per process
(one ``Predictor.load`` + predict, or one in-process ``edgemnist.cli.main`` call with its fds captured, per
case); a child that dies (a signal from a native runtime) marks the case it was on as a crash, which is
re-run alone to confirm, and the rest continue in a fresh child.

What is asserted, per case:

- never a crash, hang or traceback: ``Predictor.load``/``predict_proba`` raise only ``EdgemnistError``
  (a ValueError); a CLI command exits 0, 1 or 2, and whenever it writes to stderr that is exactly one line
  starting with ``error:``;
- with the manifest beside the artifact, any change to the artifact's bytes is refused by sha256
  (ArtifactChangedError; ``evaluate``/``predict``/``bench`` exit 1) before a runtime sees the bytes;
- without a manifest, a damaged artifact either fails to load with a clean error or loads (it passed the
  runtime's checks and the load-time self-test) and answers finite probabilities;
- a lying manifest beside an intact artifact is refused (ManifestError, ArtifactChangedError or GateError).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgemnist.fileio import sha256_bytes
from edgemnist.manifest import manifest_path
from edgemnist.tflm import layout, reader, writer

REPO = Path(__file__).resolve().parents[2]
CASE_TIMEOUT_S = 600
N_IMAGES = 64

#: The child process (a script): reads JSON cases on stdin, answers one JSON line per case.
WORKER = Path(__file__).resolve().with_name("corpus_worker.py")


# --------------------------------------------------------------------------- running cases in children


def _run_batch(cases: list[dict], images: Path, env: dict) -> tuple[dict, str | None, str]:
    """Run ``cases`` in one child: (results by id, id of the case it died or hung on, its stderr tail)."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(images)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    died = None
    try:
        out, err = proc.communicate("".join(json.dumps(c) + "\n" for c in cases), timeout=CASE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        died = f"hang (> {CASE_TIMEOUT_S} s)"
    results, started = {}, None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "start" in msg:
            started = msg["start"]
        else:
            results[msg["id"]] = msg
            started = None
    if proc.returncode != 0 and died is None:
        died = f"exit {proc.returncode}" + (f" (signal {-proc.returncode})" if proc.returncode < 0 else "")
    if started is None:
        died = None if proc.returncode == 0 else died
    return results, (started if died else None), f"{died}: {err[-2000:]}" if died else ""


def run_cases(cases: list[dict], images: Path, env: dict) -> dict:
    """Every case's result; a case that killed (or hung) its child is re-run alone to confirm, and recorded
    as {"outcome": "crash"} either way."""
    results, remaining = {}, list(cases)
    while remaining:
        got, culprit, why = _run_batch(remaining, images, env)
        results.update(got)
        if culprit is None:
            missing = [c["id"] for c in remaining if c["id"] not in results]
            assert not missing, f"the worker exited without answering {missing[:5]}: {why}"
            break
        alone, again, why_alone = _run_batch([c for c in remaining if c["id"] == culprit], images, env)
        results[culprit] = {
            "id": culprit,
            "outcome": "crash",
            "batch": why,
            "alone": why_alone if again else f"passed alone: {alone.get(culprit)}",
        }
        index = next(i for i, c in enumerate(remaining) if c["id"] == culprit)
        remaining = remaining[index + 1 :]
    return results


# --------------------------------------------------------------------------- the corpus


def _flip(data: bytes, pos: int, mask: int = 0x80) -> bytes:
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


def binary_mutations(data: bytes, header: list[int], body: list[int]) -> dict[str, bytes]:
    """Zero length, truncations and bit flips of ``data`` (header = structure, body = payload positions)."""
    n = len(data)
    out = {"empty": b""}
    for off in sorted({1, 7, 8, 64, 1024, n // 2, n - 64, n - 1}):
        out[f"trunc{off}"] = data[:off]
    for pos in header:
        out[f"flip{pos}"] = _flip(data, pos)
    for pos in body:
        out[f"flip{pos}"] = _flip(data, pos, 0x01)
    return out


def _png(width: int, height: int, extra: bytes = b"", idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = idat if idat is not None else zlib.compress(b"\x00" * (width + 1) * min(height, 4))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def hostile_images(folder: Path, digit: np.ndarray) -> dict[str, Path]:
    """Files a user might hand ``edgemnist predict``."""
    from PIL import Image

    good = folder / "good.png"
    Image.fromarray(255 - digit).resize((112, 112)).save(good)
    data = good.read_bytes()
    text_bomb = zlib.compress(b"\x00" * (64 << 20), 9)  # a 64 MB zTXt chunk in ~64 KB
    files = {
        "truncated.png": data[: len(data) // 2],
        "header-only.png": data[:33],
        "zero-byte.png": b"",
        "text.png": b"this is not an image\n" * 20,
        "bomb-500Mpx.png": _png(25_000, 20_000),  # > 2x Pillow's limit: refused at open
        "bomb-100Mpx.png": _png(10_000, 10_000),  # between 1x and 2x: Pillow only warns; refused too
        "ztxt-bomb.png": _png(
            28,
            28,
            extra=b"".join(
                [struct.pack(">I", 11 + len(text_bomb)), b"zTXt", b"Comment\x00\x00", text_bomb, b"\x00\x00\x00\x00"]
            ),
        ),
        "bad-idat.png": _png(28, 28, idat=b"\x78\x9cnot deflate data"),
        "blank.png": None,
        "flipped.png": _flip(data, len(data) // 2, 0xFF),
        "jpeg-junk.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8,
        "tflite.png": None,
    }
    out = {}
    for name, content in files.items():
        path = folder / name
        if name == "blank.png":
            Image.new("L", (64, 48), 240).save(path)
        elif name == "tflite.png":
            continue
        else:
            path.write_bytes(content)
        out[name] = path
    return out


def _ids(prefix: str, names) -> list[str]:
    return [f"{prefix}/{n}" for n in names]


@pytest.fixture(scope="module")
def corpus(export_artifact, model_path, mnist, data_dir, tmp_path_factory):
    """{case id: case} and the folders they live in; built once per module."""
    root = tmp_path_factory.mktemp("corpus")
    sources = {
        "tflite-int8": export_artifact("tflite", "int8").path,
        "tflite-float32": export_artifact("tflite", "float32").path,
        "onnx-int8": export_artifact("onnx", "int8").path,
        "onnx-float32": export_artifact("onnx", "float32").path,
        "keras": model_path,
        "micro": export_artifact("micro").path,
    }
    rng = np.random.default_rng(7)
    cases: dict[str, dict] = {}
    expect: dict[str, dict] = {}

    def add(case_id: str, kind: str, *, _expect: dict, **fields):
        cases[case_id] = {"id": case_id, "kind": kind, **fields}
        expect[case_id] = _expect

    def place(kind: str, name: str, content: bytes, src: Path, with_manifest: bool, header: bytes | None = None):
        folder = root / kind / ("m" if with_manifest else "n") / name
        folder.mkdir(parents=True)
        path = folder / src.name
        path.write_bytes(content)
        if with_manifest:
            shutil.copy(manifest_path(src), manifest_path(path))
        if header is not None:
            (folder / layout.HEADER_NAME).write_bytes(header)
        return path

    # ---- binary artifacts: flatbuffers, protobufs, zips
    for kind, src in sources.items():
        data = src.read_bytes()
        n = len(data)
        if kind == "micro":
            continue
        head = sorted({0, 4, 5, 8, 12, 16, 24, 40, 100, 300, *rng.integers(0, 2000, 4).tolist()})
        body = sorted({n // 2, n // 3, *rng.integers(n - 4000, n, 6).tolist()})
        if kind == "keras":  # inside config.json, the weights, and the zip's central directory
            head = sorted({0, 30, 200, 1500, 3400, 3500})
            body = sorted({n // 2, n - 40, n - 100, n - 200, n - 300})
        for name, content in binary_mutations(data, head, body).items():
            for with_m in (True, False):
                path = place(kind, name, content, src, with_m)
                add(
                    f"load/{kind}/{'m' if with_m else 'n'}/{name}",
                    "load",
                    path=str(path),
                    _expect={"kind": kind, "with_manifest": with_m, "mutation": name},
                )

    # ---- micro: the C text, and the flatbuffer inside it
    src = sources["micro"]
    text, header = src.read_bytes(), src.with_name(layout.HEADER_NAME).read_bytes()
    model = reader.parse_c_array(text.decode())
    n = len(text)
    text_cases = {"empty": b"", **{f"text-trunc{o}": text[:o] for o in (10, 400, n // 2, n - 30)}}
    for pos in (5, 300, 600, n // 2, n - 40):
        text_cases[f"text-flip{pos}"] = _flip(text, pos, 0x01)
    text_cases["text-foreign-array"] = writer.render_source(
        sources["tflite-float32"].read_bytes(), source_sha256=None
    ).encode()
    for name, content in text_cases.items():
        for with_m in (True, False):
            path = place("micro", name, content, src, with_m, header=header)
            add(
                f"load/micro/{'m' if with_m else 'n'}/{name}",
                "load",
                path=str(path),
                _expect={"kind": "micro", "with_manifest": with_m, "mutation": name},
            )
    byte_cases = {f"bytes-trunc{o}": model[:o] for o in (8, 200, len(model) // 2)}
    # len - 462: a flip fuzzing found that passes every structural check and makes TFLM itself crash
    # (SIGSEGV) on this network's int8 model: only the child-process probe keeps it out of this process.
    for pos in (0, 4, 40, len(model) - 462, len(model) - 300, len(model) - 100, len(model) // 2):
        byte_cases[f"bytes-flip{pos}"] = _flip(model, pos)
    for name, content in byte_cases.items():
        cc = writer.render_source(content, source_sha256=None).encode()
        for with_m in (True, False):
            path = place("micro", name, cc, src, with_m, header=header)
            add(
                f"load/micro/{'m' if with_m else 'n'}/{name}",
                "load",
                path=str(path),
                _expect={"kind": "micro", "with_manifest": with_m, "mutation": name},
            )
    # The array intact, its header damaged: a digit of the arena, another model's sha, a 1 MB header.
    arena = str(json.loads(manifest_path(src).read_text())["micro"]["arena_bytes"])
    lied = re.sub(rb"(// arena: +)\d+ bytes = \d+", rb"\g<1>1008 bytes = 1000", header)  # too small, but
    lied = lied.replace(f"= {arena};".encode(), b"= 1008;")  # consistent: only running it can tell
    assert lied != header and b"= 1008;" in lied
    bad_headers = {
        "header-arena-digit": header.replace(f"= {arena};".encode(), f"= {arena[:-2]};".encode()),
        "header-consistent-lie": lied,
        "header-foreign": header.replace(sha256_bytes(model).encode(), b"0" * 64),
        "header-huge": header + b"//" + b"x" * (1 << 20) + b"\n",
    }
    for name, h in bad_headers.items():
        for with_m in (True, False):
            path = place("micro", name, text, src, with_m, header=h)
            add(
                f"load/micro/{'m' if with_m else 'n'}/{name}",
                "load",
                path=str(path),
                _expect={"kind": "micro", "with_manifest": with_m, "mutation": name, "intact": True},
            )

    # ---- wrong files under the right suffix (no manifest: nothing vouches for them)
    png = root / "digit.png"
    from PIL import Image

    Image.fromarray(mnist.test_images[0]).save(png)
    wrong = {
        ".tflite": {
            "png": png.read_bytes(),
            "onnx": sources["onnx-int8"].read_bytes(),
            "keras": sources["keras"].read_bytes(),
            "json": manifest_path(sources["tflite-int8"]).read_bytes(),
            "idx": (data_dir / "t10k-labels-idx1-ubyte.gz").read_bytes(),
        },
        ".onnx": {
            "png": png.read_bytes(),
            "tflite": sources["tflite-int8"].read_bytes(),
            "keras": sources["keras"].read_bytes(),
            "json": b'{"format": "onnx"}',
        },
        ".keras": {
            "png": png.read_bytes(),
            "tflite": sources["tflite-int8"].read_bytes(),
            "onnx": sources["onnx-int8"].read_bytes(),
            "zip-of-json": _zip({"config.json": b"{}"}),
        },
        ".cc": {
            "png": png.read_bytes(),
            "c-source": b"int main() { return 0; }\n",
            "tflite-bytes": sources["tflite-int8"].read_bytes(),
        },
    }
    for suffix, contents in wrong.items():
        for what, content in contents.items():
            folder = root / "wrong" / f"{what}{suffix}"
            folder.mkdir(parents=True)
            path = folder / ("model_data.cc" if suffix == ".cc" else f"model{suffix}")
            path.write_bytes(content)
            add(
                f"load/wrong/{what}-as{suffix}",
                "load",
                path=str(path),
                _expect={"kind": "wrong", "with_manifest": False, "mutation": what},
            )

    # ---- manifests that lie, beside intact artifacts
    def lie(case: str, src: Path, edit=None, raw: bytes | None = None):
        folder = root / "lies" / case
        folder.mkdir(parents=True)
        path = folder / src.name
        shutil.copy(src, path)
        if src.suffix == ".cc":
            shutil.copy(src.with_name(layout.HEADER_NAME), folder / layout.HEADER_NAME)
        if raw is None:
            m = json.loads(manifest_path(src).read_text())
            edit(m)
            raw = json.dumps(m).encode()
        manifest_path(path).write_bytes(raw)
        add(
            f"load/lies/{case}",
            "load",
            path=str(path),
            _expect={"kind": "lie", "with_manifest": True, "mutation": case},
        )
        return path

    t8, o8, mc = sources["tflite-int8"], sources["onnx-int8"], sources["micro"]
    lies = {
        "shape": (t8, lambda m: m["input"].update(shape=[-1, 100])),
        "out-shape": (o8, lambda m: m["output"].update(shape=[-1, 12])),
        "scale": (t8, lambda m: m["input"].update(scale=m["input"]["scale"] * 2)),
        "zero-point": (t8, lambda m: m["output"].update(zero_point=0)),
        "micro-scale": (mc, lambda m: m["input"].update(scale=0.5)),
        "nan-scale": (t8, lambda m: m["input"].update(scale=float("nan"))),
        "string-scale": (o8, lambda m: m["input"].update(scale="0.5")),
        "sha256": (t8, lambda m: m["artifact"].update(sha256="0" * 64)),
        "sha256-not-hex": (o8, lambda m: m["artifact"].update(sha256="z" * 64)),
        "micro-sha256": (mc, lambda m: m["artifact"].update(sha256="1" * 64)),
        "format": (t8, lambda m: m.update(format="onnx", quantization="int8")),
        "format-unknown": (o8, lambda m: m.update(format="pytorch")),
        "schema": (t8, lambda m: m.update(schema="edgemnist.manifest/99")),
        "unverified": (t8, lambda m: m["verification"].update(passed=False, reasons=["accuracy 9% < 97%"])),
        "reasons-int": (t8, lambda m: m["verification"].update(passed=False, reasons=7)),
        "source-list": (o8, lambda m: m.update(source=[1, 2])),
        "dtype": (o8, lambda m: m["input"].update(dtype="int8", scale=0.1, zero_point=0)),
        "not-an-object": (t8, lambda m: None),
    }
    for case, (src, edit) in lies.items():
        if case == "not-an-object":
            lie(case, src, raw=b"[1, 2, 3]")
        else:
            lie(case, src, edit)
    for case, raw in {
        "junk": b"{not json",
        "empty": b"",
        "binary": bytes(range(256)),
        "huge": b'{"pad": "' + b"x" * (2 << 20) + b'"}',
        "deep": b"[" * 200_000 + b"]" * 200_000,
        "big-int": b'{"schema": ' + b"9" * 5000 + b"}",
        "bom-utf16": '{"a": 1}'.encode("utf-16"),
    }.items():
        lie(f"raw-{case}", t8, raw=raw)
    return {"cases": cases, "expect": expect, "root": root, "sources": sources, "png": png}


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def child_env(data_dir, tmp_path_factory):
    env = dict(os.environ)
    env.update(
        EDGEMNIST_DATA_DIR=str(data_dir),
        XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")),
        EDGEMNIST_MIRRORS="http://127.0.0.1:9/",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONFAULTHANDLER="",
        # A script's sys.path starts at its own folder, not the cwd: the checkout's edgemnist comes first.
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    env.pop("PYTHONFAULTHANDLER")
    return env


@pytest.fixture(scope="module")
def images_file(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "images.npy"
    np.save(path, mnist.test_images[:N_IMAGES], allow_pickle=False)
    return path


def cli_cases(corpus, export_artifact, model_path, data_dir, mnist, tmp_path_factory) -> dict[str, dict]:
    """Every command on its share of the corpus."""
    root = tmp_path_factory.mktemp("cli")
    cases: dict[str, dict] = {}
    loads = corpus["cases"]
    expect = corpus["expect"]
    good_png = corpus["png"]
    d = ["--data-dir", str(data_dir)]

    def add(case_id, argv, **exp):
        cases[case_id] = {"id": case_id, "kind": "cli", "argv": argv, "_expect": exp}

    # evaluate / info / predict on one damage of each kind per artifact kind, with and without manifest;
    # bench on the manifest ones (the sha256 refuses them before any timing).
    picked = collections.defaultdict(list)
    for cid in loads:
        e = expect[cid]
        if e["kind"] in ("lie", "wrong"):
            picked[e["kind"]].append(cid)
            continue
        mut = e["mutation"]
        # (Loadable micro damage, e.g. a damaged header beside an intact array, costs an arena measurement
        # and 10,000 TFLM inferences per command: the load cases above cover it.)
        if mut in ("empty", "trunc64", "trunc1024", "text-trunc400", "bytes-flip40", "flip4", "flip16", "flip0"):
            picked[(e["kind"], e["with_manifest"])].append(cid)
    for group, ids in picked.items():
        for cid in ids:
            path = loads[cid]["path"]
            with_m = expect[cid]["with_manifest"]
            tag = cid.removeprefix("load/")
            facts = dict(
                with_manifest=with_m,
                mutation=expect[cid]["mutation"],
                kind=expect[cid]["kind"],
                intact=expect[cid].get("intact", False),
            )
            add(f"evaluate/{tag}", ["evaluate", path, *d], command="evaluate", **facts)
            add(f"info/{tag}", ["info", path], command="info", **facts)
            if group != "wrong" or "tflite" in path:
                add(f"predict/{tag}", ["predict", path, str(good_png)], command="predict", **facts)
            if with_m and expect[cid]["kind"] in ("tflite-int8", "onnx-float32", "micro", "lie"):
                add(
                    f"bench/{tag}",
                    [
                        "bench",
                        path,
                        "--no-keras",
                        "--no-accuracy",
                        "--min-time",
                        "0.01",
                        "--min-runs",
                        "3",
                        "--warmup",
                        "1",
                        "--batch-sizes",
                        "1",
                        *d,
                    ],
                    command="bench",
                    **facts,
                )

    # predict: hostile images with a good model
    good = str(export_artifact("tflite", "int8").path)
    images = hostile_images(root, mnist.test_images[0])
    for name, path in images.items():
        add(f"predict/image/{name}", ["predict", good, str(path)], command="predict-image", mutation=name)
    add("predict/image/missing", ["predict", good, str(root / "nope.png")], command="predict-image", mutation="missing")
    add("predict/image/directory", ["predict", good, str(root)], command="predict-image", mutation="directory")

    # export --model: damaged .keras files; with the training manifest beside them its sha256 refuses them
    out = root / "export-out"
    for cid, case in loads.items():
        e = expect[cid]
        if e["kind"] == "keras" or e["kind"] == "wrong" and case["path"].endswith(".keras"):
            if e["kind"] == "keras" and not e["with_manifest"] and e["mutation"] not in ("empty", "trunc64"):
                continue  # without the training manifest, a byte the zip ignores would export a good model
            add(
                f"export/{cid.removeprefix('load/')}",
                [
                    "export",
                    "--model",
                    case["path"],
                    "--out",
                    str(out),
                    "--format",
                    "tflite",
                    "--quantize",
                    "float32",
                    *d,
                ],
                command="export",
                mutation=e["mutation"],
                with_manifest=e["with_manifest"],
            )

    # train --data-dir: damaged MNIST files (raw IDX, so every byte is covered by the payload's sha256)
    import gzip

    for key, fname in (("train_labels", "train-labels-idx1-ubyte"), ("test_labels", "t10k-labels-idx1-ubyte")):
        payload = gzip.decompress((data_dir / f"{fname}.gz").read_bytes())
        muts = {
            "empty": b"",
            "trunc3": payload[:3],
            "trunc8": payload[:8],
            "trunc-half": payload[: len(payload) // 2],
            "trailing": payload + b"\0",
            "flip-magic": _flip(payload, 2),
            "flip-dims": _flip(payload, 6),
            "flip-body": _flip(payload, len(payload) // 2, 0x01),
            "flip-last": _flip(payload, len(payload) - 1, 1),
            "gz-truncated": None,
            "images-as-labels": None,
        }
        for name, content in muts.items():
            folder = root / "data" / f"{key}-{name}"
            folder.mkdir(parents=True)
            for other in data_dir.glob("*.gz"):
                if not other.name.startswith(fname):
                    (folder / other.name).symlink_to(other)
            if name == "gz-truncated":
                raw = (data_dir / f"{fname}.gz").read_bytes()
                (folder / f"{fname}.gz").write_bytes(raw[: len(raw) // 2])
            elif name == "images-as-labels":
                (folder / f"{fname}.gz").symlink_to(data_dir / "t10k-images-idx3-ubyte.gz")
            else:
                (folder / fname).write_bytes(content)
            add(
                f"train/{key}/{name}",
                ["train", "--epochs", "1", "--data-dir", str(folder), "--out", str(root / "train-out")],
                command="train",
                mutation=name,
            )
    return cases


def _one_error_line(stderr: str) -> bool:
    return stderr.startswith("error: ") and stderr.count("\n") == 1 and stderr.endswith("\n")


def test_corruption_corpus(
    corpus, export_artifact, model_path, data_dir, mnist, tmp_path_factory, images_file, child_env, record_property
):
    load_cases = list(corpus["cases"].values())
    clis = cli_cases(corpus, export_artifact, model_path, data_dir, mnist, tmp_path_factory)
    cli_list = [{k: v for k, v in c.items() if k != "_expect"} for c in clis.values()]
    # Two children at a time (the machine's two cores): the load cases and the CLI cases.
    half = len(cli_list) // 2
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(run_cases, load_cases, images_file, child_env),
            pool.submit(run_cases, cli_list[:half], images_file, child_env),
            pool.submit(run_cases, cli_list[half:], images_file, child_env),
        ]
        results = {}
        for f in futures:
            results.update(f.result())

    from edgemnist.predictor import Predictor

    pristine = {
        kind: Predictor.load(src).predict(mnist.test_images[:N_IMAGES]).labels.tolist()
        for kind, src in corpus["sources"].items()
    }
    problems, counts = [], collections.Counter()
    for cid in corpus["cases"]:
        r, e = results[cid], corpus["expect"][cid]
        group = (
            "lies"
            if e["kind"] == "lie"
            else "wrong"
            if e["kind"] == "wrong"
            else f"{e['kind']} ({'with' if e['with_manifest'] else 'no'} manifest)"
        )
        if r["outcome"] == "crash":
            problems.append(f"{cid}: CRASH {r}")
            counts[(group, "crash")] += 1
            continue
        if r["outcome"] == "raised":
            problems.append(f"{cid}: raised a non-edgemnist exception: {r['message']}")
            counts[(group, "traceback")] += 1
            continue
        if r["outcome"] == "error":
            outcome = "hash caught" if r["type"] == "ArtifactChangedError" else "clean error"
            if "TFLM crashed" in r["message"]:
                outcome += " (TFLM crashed in a child process)"
            counts[(group, outcome)] += 1
            if e["with_manifest"] and e["kind"] != "lie" and not e.get("intact"):
                if r["type"] != "ArtifactChangedError":
                    problems.append(
                        f"{cid}: with a manifest, a changed artifact must be refused by sha256, "
                        f"got {r['type']}: {r['message']}"
                    )
            continue
        # loaded
        same = r["argmax"] == pristine.get(e["kind"])
        counts[
            (
                group,
                ("loaded, answers unchanged" if same else "loaded, answers changed")
                if r["finite"]
                else "loaded, non-finite output",
            )
        ] += 1
        if e["kind"] == "lie" or e["with_manifest"] and not e.get("intact"):
            problems.append(f"{cid}: loaded although {'its manifest lies' if e['kind'] == 'lie' else 'it changed'}")
        if r["shape"] != [N_IMAGES, 10] or r["dtype"] != "float32" or not r["finite"] or r["sum_err"] > 0.05:
            problems.append(
                f"{cid}: loaded but answered {r['shape']} {r['dtype']} finite={r['finite']} sum_err={r['sum_err']}"
            )
        if (
            e.get("intact")
            and r["argmax"][:10] != mnist.test_labels[:10].tolist()
            and np.mean(np.array(r["argmax"]) == mnist.test_labels[:N_IMAGES]) < 0.9
        ):
            problems.append(f"{cid}: an intact array with a damaged header answers wrongly: {r['argmax'][:10]}")

    for cid, case in clis.items():
        r, e = results[cid], case["_expect"]
        label = f"cli {e['command']}"
        if r["outcome"] == "crash":
            problems.append(f"{cid}: CRASH {r}")
            counts[(label, "crash")] += 1
            continue
        rc, err = r["rc"], r["stderr"]
        if "Traceback" in err or rc == "raised" or rc not in (0, 1, 2):
            problems.append(f"{cid}: rc={rc} stderr={err[-1500:]!r}")
            counts[(label, "traceback")] += 1
            continue
        if err and not _one_error_line(err):
            problems.append(f"{cid}: stderr is not exactly one 'error:' line: {err!r}")
        if rc != 0 and not err and not (e["command"] == "evaluate" and rc == 1 and "FAIL" in r["stdout"]):
            problems.append(f"{cid}: exit {rc} without saying why: stdout={r['stdout'][-300:]!r}")
        if rc == 0 and err:
            problems.append(f"{cid}: exit 0 with an error: {err!r}")
        if (
            e.get("with_manifest")
            and e["command"] in ("evaluate", "predict", "bench")
            and rc != 1
            and e.get("kind") != "lie"
            and not e.get("intact")
        ):
            problems.append(
                f"{cid}: with a manifest, a changed artifact must fail the gate (exit 1), got {rc}: {err!r}"
            )
        if e["command"] == "export" and e.get("with_manifest") and rc != 1:  # the training manifest's sha256
            problems.append(f"{cid}: export from a changed model.keras must be refused (exit 1), got {rc}: {err!r}")
        if e["command"] in ("predict-image", "train") or e["command"] == "export" and not e.get("with_manifest"):
            if rc != 2:
                problems.append(f"{cid}: expected a clean exit 2, got {rc}: {err!r} {r['stdout'][-300:]!r}")
        counts[(label, "ok (exit 0)" if rc == 0 else f"clean error (exit {rc})")] += 1

    summary = collections.defaultdict(dict)
    for (group, outcome), k in sorted(counts.items()):
        summary[group][outcome] = k
    record_property("corpus", json.dumps(summary))
    print("\ncorruption corpus:", json.dumps(summary, indent=1))
    slowest = sorted(results.values(), key=lambda r: -r.get("seconds", 0))[:15]
    print("slowest cases:", ", ".join(f"{r['id']} {r.get('seconds')} s" for r in slowest))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
