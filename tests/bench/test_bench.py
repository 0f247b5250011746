"""edgemnist.bench, its CLI and the benchmark scripts: structure and sanity, never absolute times."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from toolchains import requires

from edgemnist.bench import plot as bench_plot
from edgemnist.bench import render as bench_render
from edgemnist.bench.artifact import bench_artifact, to_model_input
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.report import OVERHEAD_TARGET, SCHEMA
from edgemnist.bench.runs import run_bench
from edgemnist.cli import main
from edgemnist.errors import ArtifactError, ConfigError, InputError
from edgemnist.formats import FORMATS
from edgemnist.manifest import manifest_path
from edgemnist.predictor.base import TensorSpec

REPO = Path(__file__).resolve().parents[2]
TINY = BenchConfig(batch_sizes=(1, 8), warmup=3, min_time=0.02, min_runs=20, keras_min_runs=2)
N_IMAGES = 400  # accuracy on a slice keeps the module fast; the CLI test measures the full set


def _copy(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for p in (src, manifest_path(src), src.with_name("model_data.h")):
        if p.is_file() and (p != src.with_name("model_data.h") or src.suffix == ".cc"):
            shutil.copy(p, dst_dir / p.name)
    return dst_dir / src.name


@pytest.fixture(scope="module")
def artifacts(export_artifact, model_path, tmp_path_factory):
    """Private copies (other tests rewrite files in the shared export folder): int8 TFLite, float32 ONNX,
    the TFLite Micro array and the Keras source beside them."""
    folder = tmp_path_factory.mktemp("bench")
    out = {
        "tflite": _copy(export_artifact("tflite", "int8", "int8").path, folder),
        "onnx": _copy(export_artifact("onnx", "float32").path, folder),
        "keras": _copy(model_path, folder),
    }
    try:
        out["micro"] = _copy(export_artifact("micro").path, folder)
    except ImportError:
        pass
    return out


@pytest.fixture(scope="module")
def test_set(mnist):
    return mnist.test_images[:N_IMAGES], mnist.test_labels[:N_IMAGES]


@pytest.fixture(scope="module")
def progress_calls():
    return []


@pytest.fixture(scope="module")
def report(artifacts, test_set, progress_calls):
    images, labels = test_set
    return run_bench(
        [artifacts["tflite"], artifacts["onnx"]],
        TINY,
        images=images,
        labels=labels,
        progress=lambda *call: progress_calls.append(call),
    )


# ---------------------------------------------------------------------------------------------- pure parts


def test_every_registered_format_has_a_raw_loop():
    from edgemnist.predictor.base import Backend

    for fmt in FORMATS.values():
        backend = fmt.load_backend()
        assert backend.raw_loop.__func__ is not Backend.raw_loop.__func__, f"{fmt.name}: no raw loop"


# ---------------------------------------------------------------------------------------------- real runtimes


@pytest.mark.parametrize("kind", ["tflite", "onnx", "micro"])
def test_bench_artifact_structure_and_sanity(kind, artifacts, test_set):
    if kind == "micro":
        requires("tflite_micro")
    images, labels = test_set
    r = bench_artifact(artifacts[kind], TINY, images, labels)
    manifest = json.loads(manifest_path(artifacts[kind]).read_text())
    assert (r.format, r.quantization, r.io) == (kind, manifest["quantization"], manifest["io"])
    assert r.threads == 1 and r.size_bytes == artifacts[kind].stat().st_size
    if kind == "micro":
        assert r.deploy_bytes == manifest["micro"]["flash_bytes"] < r.size_bytes
    else:
        assert r.deploy_bytes == r.size_bytes
    assert r.accuracy_source == "measured" and r.accuracy_n == N_IMAGES and 0.9 < r.accuracy <= 1.0
    assert r.verified is True and r.manifest_accuracy == pytest.approx(manifest["verification"]["accuracy"])
    assert r.load_ms > 0 and r.first_inference_ms > 0 and r.raw_load_ms > 0 and r.raw_first_inference_ms > 0
    assert r.raw_agreement == 1.0  # raw loop and predictor saw the same images
    assert {(m.subject, m.batch) for m in r.measurements} == {(s, b) for s in ("predictor", "raw") for b in (1, 8)}
    for m in r.measurements:
        lat = m.latency
        assert m.runs == lat.runs >= (TINY.min_runs if m.batch == 1 else 3)
        assert lat.min <= lat.p50 <= lat.max and lat.mean > 0 and lat.std >= 0
        if lat.p90 is not None:
            assert lat.p50 <= lat.p90 <= lat.max
        if lat.p99 is not None:
            assert lat.p90 <= lat.p99 <= lat.max
        assert m.images_per_s > 0 and m.seconds > 0 and 0 <= lat.outliers < lat.runs
        assert (m.cdf is not None) is (m.batch == 1)
    assert r.measurement("predictor", 1).warmup == TINY.warmup and r.measurement("predictor", 8).warmup == 2
    over = r.overhead
    assert over["p50_ratio"] > 0 and over["target_p50_ratio"] == OVERHEAD_TARGET == 1.3
    assert isinstance(r.memory["load_rss_increase_bytes"], int) and "second instance" in r.memory["method"]
    json.dumps(r.to_dict())


def test_raw_keras_loop_runs_model_x(artifacts, test_set):
    images, _ = test_set
    raw = FORMATS["keras"].load_backend().raw_loop(artifacts["keras"], 1)
    out = raw.prepare(2)(to_model_input(images[:2].reshape(2, -1), TensorSpec("x", (-1, 784), "float32")))
    assert out.shape == (2, 10) and np.allclose(out.sum(axis=1), 1.0, atol=1e-4) and "model(x" in raw.method


def test_report_json_round_trips_with_stable_keys(report, artifacts):
    d = report.to_dict()
    assert json.loads(report.to_json()) == d
    assert list(d) == [
        "schema",
        "created",
        "wall_seconds",
        "config",
        "machine",
        "timing",
        "artifacts",
        "keras",
        "memory",
        "notes",
    ]
    assert d["memory"]["peak_rss_bytes"] > 0 and "whole bench process" in d["memory"]["method"]
    assert d["schema"] == SCHEMA and d["config"]["batch_sizes"] == [1, 8] and d["wall_seconds"] > 0
    machine = d["machine"]
    for key in ("cpu", "logical_cores", "usable_cores", "os", "python", "versions", "thread_env", "date"):
        assert key in machine
    assert machine["cpu"] and machine["versions"]["numpy"] == np.__version__
    assert "onnxruntime" in machine["versions"] and "ai-edge-litert" in machine["versions"]
    assert [a["name"] for a in d["artifacts"]] == [artifacts["tflite"].name, artifacts["onnx"].name]
    for a in d["artifacts"]:
        assert a["overhead"]["p50_ratio"] > 0 and a["raw_method"]
        assert {m["subject"] for m in a["measurements"]} == {"predictor", "raw"}
        assert "samples_ns" not in a["measurements"][0]
    # the Keras source was found beside the artifacts
    k = d["keras"]
    assert Path(k["path"]).name == "model.keras" and 0.9 < k["accuracy"] <= 1.0
    assert {(m["subject"], m["batch"]) for m in k["measurements"]} == {
        (s, b) for s in ("keras.call", "keras.predict") for b in (1, 8)
    }
    assert all(m["runs"] >= TINY.keras_min_runs and m["images_per_s"] > 0 for m in k["measurements"])


def test_overhead_ratio_and_flag_agree_with_the_reports_own_numbers(report):
    d = report.to_dict()
    header, rows = bench_render.summary_table(d)
    line = bench_render.overhead_line(d)
    for a, row in zip(d["artifacts"], rows, strict=True):
        p50 = bench_render.latency(a, "predictor")
        raw_p50 = bench_render.latency(a, "raw")
        over = a["overhead"]
        assert over["p50_ratio"] == pytest.approx(p50 / raw_p50, abs=1e-4)
        assert over["within_target"] is (p50 / raw_p50 <= OVERHEAD_TARGET)
        flag = "✓" if over["within_target"] else "✗"
        assert row[header.index("×raw")] == f"{over['p50_ratio']:.2f} {flag}"
        assert f"{bench_render.short_name(a['name'])} {over['p50_ratio']:.2f} {flag}" in line


def test_progress_counts_jobs_from_one_list(report, progress_calls):
    totals = {total for _msg, _done, total in progress_calls}
    assert totals == {3}  # two artifacts, then the Keras baseline
    done = [d for _msg, d, _total in progress_calls]
    assert done == sorted(done) and done[0] == 0 and done[-1] == 3
    assert any(msg.startswith("model.") and "raw" in msg for msg, _d, _t in progress_calls)


def test_markdown_and_plots(report, tmp_path):
    d = report.to_dict()
    md = bench_render.markdown([d])
    assert d["created"] in md and d["machine"]["cpu"] in md and "threads 1" in md
    for a in d["artifacts"]:
        assert f"| {a['name']} |" in md
    assert "Keras baseline" in md and "×raw" in md and "predictor overhead" in md and "peak RSS" in md
    for draw, name in (
        (lambda p: bench_plot.plot(d, p), "both.png"),
        (lambda p: bench_plot.plot_tradeoff([d, d], p), "tradeoff.png"),
        (lambda p: bench_plot.plot_cdf([d], p), "cdf.png"),
    ):
        path = draw(tmp_path / name)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    from matplotlib.image import imread

    pixels = imread(tmp_path / "both.png")
    assert pixels.shape[0] > 400 and pixels.shape[1] > 1000 and pixels.std() > 0.05  # drawn, not blank


def test_bench_reads_each_manifest_once_and_hands_the_record_along(artifacts, test_set, manifest_reads):
    """Every artifact's manifest is read once for the whole run (finding the Keras model, both loads, the accuracy
    run, the source check), and the Keras model's once."""
    images, labels = test_set
    tflite, onnx = artifacts["tflite"], artifacts["onnx"]
    report = run_bench(
        [tflite, onnx],
        BenchConfig(batch_sizes=(1,), warmup=1, min_time=0.01, min_runs=5, keras_min_runs=1),
        images=images[:100],
        labels=labels[:100],
    )
    assert report.keras is not None and report.keras["accuracy_source"] == "measured"  # found through a manifest
    assert all(a.accuracy_source == "measured" and a.verified for a in report.artifacts)
    assert dict(manifest_reads) == {tflite.name: 1, onnx.name: 1, artifacts["keras"].name: 1}


def test_bad_images_and_unknown_artifacts(artifacts, test_set, tmp_path):
    images, labels = test_set
    with pytest.raises(InputError):
        bench_artifact(artifacts["tflite"], TINY, images.astype(np.float32), labels)
    with pytest.raises(InputError):
        bench_artifact(artifacts["tflite"], TINY, images, labels[:5])
    with pytest.raises(ArtifactError):
        run_bench([tmp_path / "missing.tflite"], TINY, images=images, labels=labels)
    with pytest.raises(ArtifactError):
        run_bench([tmp_path / "model.pt"], TINY, images=images, labels=labels)
    with pytest.raises(ConfigError):
        run_bench([], TINY, images=images, labels=labels)


# ---------------------------------------------------------------------------------------------- the command


def test_cli_writes_json_markdown_and_png(artifacts, data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()  # an output's folder must exist: a missing one is an error, not a folder to create
    rc = main(
        [
            "bench",
            str(artifacts["tflite"]),
            "--batch-sizes",
            "1,4",
            "--warmup",
            "2",
            "--min-time",
            "0.02",
            "--min-runs",
            "10",
            "--no-keras",
            "--data-dir",
            str(data_dir),
            "--json",
            str(out / "b.json"),
            "--markdown",
            str(out / "b.md"),
            "--plot",
            str(out / "b.png"),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert artifacts["tflite"].name in printed and "×raw" in printed and "machine:" in printed
    d = json.loads((out / "b.json").read_text())
    assert d["schema"] == SCHEMA and d["config"]["min_runs"] == 10 and d["keras"] is None
    a = d["artifacts"][0]
    assert a["accuracy_source"] == "measured" and a["accuracy_n"] == 10000
    assert a["accuracy"] == pytest.approx(a["manifest_accuracy"], abs=1e-9)  # same images, same predictor
    assert a["measurements"][0]["runs"] >= 10
    assert d["created"] in (out / "b.md").read_text()
    assert (out / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_no_accuracy_takes_the_manifest(artifacts, data_dir, tmp_path):
    rc = main(
        [
            "bench",
            str(artifacts["onnx"]),
            "--batch-sizes",
            "1",
            "--warmup",
            "0",
            "--min-time",
            "0.01",
            "--min-runs",
            "5",
            "--no-keras",
            "--no-accuracy",
            "--data-dir",
            str(data_dir),
            "--json",
            str(tmp_path / "o.json"),
        ]
    )
    assert rc == 0
    a = json.loads((tmp_path / "o.json").read_text())["artifacts"][0]
    assert a["accuracy_source"] == "manifest" and a["accuracy"] == pytest.approx(a["manifest_accuracy"])


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--threads", "0"],
        ["--batch-sizes", "0"],
        ["--batch-sizes", "1,x"],
        ["--batch-sizes", ""],
        ["--min-time", "-1"],
        ["--min-time", "nan"],
        ["--min-runs", "0"],
        ["--warmup", "-1"],
        ["--keras", "m.keras", "--no-keras"],
        ["--bogus"],
    ],
)
def test_bad_flags_exit_2(flags, artifacts, capsys):
    argv = ["bench", *([] if flags == [] else [str(artifacts["tflite"])]), *flags]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("case", ["missing", "suffix", "corrupt", "json-suffix", "png-suffix", "keras-missing"])
def test_bad_artifacts_and_outputs_exit_2_with_one_line(case, artifacts, data_dir, tmp_path, capsys):
    target = str(artifacts["tflite"])
    extra: list[str] = []
    if case == "missing":
        target = str(tmp_path / "nope.tflite")
    elif case == "suffix":
        (tmp_path / "model.bin").write_bytes(b"x")
        target = str(tmp_path / "model.bin")
    elif case == "corrupt":
        (tmp_path / "broken.onnx").write_bytes(b"not a protobuf" * 10)
        target = str(tmp_path / "broken.onnx")
    elif case == "json-suffix":
        extra = ["--json", str(tmp_path / "report.txt")]
    elif case == "png-suffix":
        extra = ["--plot", str(tmp_path / "plot.jpg")]
    else:
        extra = ["--keras", str(tmp_path / "absent.keras")]
    rc = main(
        [
            "bench",
            target,
            "--min-time",
            "0.01",
            "--min-runs",
            "3",
            "--warmup",
            "0",
            "--batch-sizes",
            "1",
            "--no-accuracy",
            "--data-dir",
            str(data_dir),
            *extra,
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


# ---------------------------------------------------------------------------------------------- scripts


def _script(name: str):
    path = REPO / "benchmarks" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_script_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_update_readme_rewrites_only_the_marked_section(report, tmp_path):
    update = _script("update_readme")
    results = tmp_path / "results"
    results.mkdir()
    d = report.to_dict()
    (results / "sweep.json").write_text(
        json.dumps(
            {
                "schema": "edgemnist.sweep/1",
                "quick": True,
                "command": "python benchmarks/sweep.py --quick",
                "bench_commands": ["python -m edgemnist bench ..."],
                "reports": [d, d],
            }
        )
    )
    readme = tmp_path / "README.md"
    before, after = "# edgemnist\n\nintro\n\n", "\n\n## License\n"
    readme.write_text(f"{before}{update.START}\nstale numbers\n{update.END}{after}")
    assert update.main(["--readme", str(readme), "--results", str(results), "--check"]) == 1
    assert update.main(["--readme", str(readme), "--results", str(results)]) == 0
    text = readme.read_text()
    assert text.startswith(before + update.START) and text.endswith(update.END + after)
    assert "stale numbers" not in text and d["created"] in text and d["machine"]["cpu"] in text
    assert "Quick run, not for publishing" in text and "results/sweep.png" in text
    for a in d["artifacts"]:
        assert a["name"] in text
    assert update.main(["--readme", str(readme), "--results", str(results), "--check"]) == 0
    readme.write_text("# no markers\n")
    assert update.main(["--readme", str(readme), "--results", str(results)]) == 2
    assert update.main(["--readme", str(readme), "--results", str(tmp_path / "none")]) == 2


@requires("/proc/self/status")  # VmHWM: Linux only
def test_cold_start_measures_the_childs_own_peak_rss(tmp_path):
    cold = _script("cold_start")
    row = cold.run_child(
        {"name": "bare", "kind": "baseline", "code": cold.BARE, "artifact": None}, tmp_path / "unused.npy", 1
    )
    # This pytest process holds TensorFlow (hundreds of MB); a bare interpreter must not inherit that figure.
    assert 0 < row["peak_rss_bytes"] < 100 * 2**20 and row["wall_ms"] > 0
    assert "VmHWM" in row["peak_rss_method"]


def test_sweep_runs_the_documented_command(tmp_path):
    sweep = _script("sweep")
    args = sweep.parse_args(["--quick", "--threads", "2,1,2"])
    assert args.threads == (2, 1)
    cmd = sweep.bench_command([Path("a.tflite")], Path("m.keras"), 2, tmp_path / "t.json", args)
    assert cmd[1:4] == ["-m", "edgemnist", "bench"] and "--no-accuracy" in cmd
    assert cmd[cmd.index("--threads") + 1] == "2"
    shown = sweep.display([sys.executable, *cmd[1:]])
    assert shown.startswith("python -m edgemnist bench a.tflite") and "--json" not in shown
    with pytest.raises(SystemExit):
        sweep.parse_args(["--threads", "0"])


def test_terminal_tables_fit_100_columns_and_title_keras_once(report, capsys):
    """Not a terminal (a pipe, a file): every line fits 100 columns, and the Keras table's title is printed once
    (the column under it is "method")."""
    from edgemnist.bench.terminal import print_tables

    print_tables(report.to_dict())
    printed = capsys.readouterr().out
    assert printed.count("Keras baseline") == 1 and "method" in printed
    too_long = [line for line in printed.splitlines() if len(line) > 100]
    assert not too_long, too_long


def test_cli_cortex_m4_prints_a_table_and_writes_markdown_only_when_asked(export_artifact, data_dir, tmp_path):
    """``bench --target cortex-m4`` in a terminal-like run: a table, no Markdown, no HTML comment, no verdicts;
    --markdown and --json write the same figures."""
    import subprocess

    requires("cortex-m4", "host")
    c_path = export_artifact("c").path
    md, js = tmp_path / "m4.md", tmp_path / "m4.json"
    argv = [
        sys.executable,
        "-m",
        "edgemnist",
        "bench",
        str(c_path),
        "--target",
        "cortex-m4",
        "--images",
        "5",
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "instructions per inference" in out and "dsp path" in out and "portable path" in out
    assert "<!--" not in out and "| ---" not in out and "|---" not in out and "Targets" not in out
    assert all(len(line) <= 100 for line in out.splitlines()), out
    assert "wrote" not in out and not md.exists()
    proc = subprocess.run(
        [*argv, "--markdown", str(md), "--json", str(js)], capture_output=True, text=True, timeout=900, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    report = json.loads(js.read_text())
    assert "<!--" not in text and "Targets" not in text and "| instructions per inference |" in text
    dsp = report["paths"]["dsp"]["instructions_per_inference"]
    assert f"{dsp:,.0f}" in text and f"{dsp:,.0f}" in proc.stdout


@requires("host", "host-timing")
def test_the_c_kernel_is_timed_by_its_own_c_loop_beside_the_peers(export_artifact, artifacts, test_set, tmp_path):
    """The host build of the C kernel: its bare C driver (no Python) times every image once and gives the
    Predictor's labels; the host-peers table puts it beside the Predictor and the raw LiteRT and TFLM loops."""
    from edgemnist.bench import render
    from edgemnist.build import host
    from edgemnist.ckernel.layout import HEADER_NAME

    c = export_artifact("c").path
    for p in (c, c.with_name(HEADER_NAME), manifest_path(c)):
        shutil.copy(p, tmp_path / p.name)
    images, labels = test_set
    r = bench_artifact(tmp_path / c.name, TINY, images, labels)
    n = r.native
    assert n is not None and n["images"] == len(images) and n["warmup"] == TINY.warmup and not n["interleaved"]
    assert n["agreement"] == 1.0 and 0 < n["latency_ms"]["min"] <= n["latency_ms"]["p50"] <= n["latency_ms"]["max"]
    assert "timing_main.c" in n["method"]
    ns, got = host.run_timing_driver(host.build_timing_driver(tmp_path / c.name), images[:5], warmup=0)
    assert len(ns) == 5 and (ns > 0).all() and len(got) == 5  # the same driver, called directly
    others = [bench_artifact(artifacts[k], TINY, images, labels) for k in ("tflite", "micro") if k in artifacts]
    report = {"artifacts": [a.to_dict() for a in (r, *others)]}
    header, rows = render.host_peers_table(report)
    assert [row[0] for row in rows][:3] == ["C kernel, bare C loop", "C kernel, Predictor", "LiteRT, raw"]
    assert rows[0][header.index("× bare C p50")] == "1.00"
    assert others[0].native is None  # only the C kernel has a native loop
