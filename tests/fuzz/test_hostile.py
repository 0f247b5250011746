"""The known hostile files, as regression tests: crafted files that crashed, hung, blew memory, raised
tracebacks, forged output or turned off a safety check, each run in a child process with a 1 GB address-space
limit and a timeout (``tests/fuzz/harness.py``), built from copies of the session's real artifacts
(``tests/fuzz/builders.py``). Each failed on main before the fixes (the finding's number is in the test name).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from toolchains import requires

from fuzz import builders, harness, sources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def src(request):
    return sources.artifacts(request)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    npy = tmp_path_factory.mktemp("images") / "images.npy"
    np.save(npy, sources.mnist_images(request))
    s = harness.ForkServer(npy)
    yield s
    s.close()


@pytest.fixture(scope="module")
def data_arg(request):
    return ["--data-dir", os.environ.get("EDGEMNIST_DATA_DIR") or str(request.getfixturevalue("data_dir"))]


def _run(server, tmp_path, **case):
    case.setdefault("id", tmp_path.name)
    case.setdefault("workdir", str(tmp_path / "run"))
    result = server.run(case)
    assert harness.problems(result) == [], result
    return result


def _load(server, tmp_path, path: Path, **kw):
    return _run(server, tmp_path, kind="load", path=str(path), **kw)


def _cli(server, tmp_path, argv, **kw):
    return _run(server, tmp_path, kind="cli", argv=[str(a) for a in argv], **kw)


def _refused(result, *words):
    assert result["outcome"] == "error", result
    for w in words:
        assert w in result["message"], result["message"]


# --------------------------------------------------------------------------- 1. SIGSEGV: written tensors with data


@pytest.mark.parametrize("model", ["tflite-float32", "tflite-int8"])
@pytest.mark.parametrize("which", ["activation", "output"])
@pytest.mark.parametrize("where", ["offset", "inline"])
def test_finding1_written_tensor_with_buffer_data_is_refused(model, which, where, src, server, tmp_path):
    path = builders.tflite_written_tensor_with_data(src[model], tmp_path / "m", which=which, where=where)
    _refused(_load(server, tmp_path, path), "not a TFLite model of this network")


def test_finding1_info_and_evaluate_refuse_it_too(src, server, tmp_path, data_arg):
    path = builders.tflite_written_tensor_with_data(src["tflite-float32"], tmp_path / "m")
    for argv in (["info", path], ["evaluate", path, *data_arg]):
        r = _cli(server, tmp_path, argv)
        assert r["rc"] == 2 and "not a TFLite model of this network" in r["stderr"], r


@pytest.mark.parametrize("code", [32, 119, 118, 3])  # CUSTOM, WHILE, IF, CONV_2D
def test_operators_outside_the_allow_list_are_refused(code, src, server, tmp_path):
    path = builders.tflite_unlisted_operator(src["tflite-int8"], tmp_path / "m", code)
    _refused(_load(server, tmp_path, path), "operator code")


@pytest.mark.parametrize("model", ["tflite-float32", "tflite-int8"])
def test_fuzz_found_a_fully_connected_without_weights_is_refused(model, src, server, tmp_path):
    """Found by the 2,400-mutant campaign (seed 12): LiteRT segfaulted on it; now operands are checked too."""
    path = builders.tflite_operator_without_weights(src[model], tmp_path / "m")
    _refused(_load(server, tmp_path, path), "FULLY_CONNECTED")


@pytest.mark.parametrize("model", ["tflite-float32", "tflite-int8", "micro"])
def test_fuzz_found_an_activation_of_the_wrong_shape_is_refused(model, src, server, tmp_path):
    """Found by the campaign (seed 12, a micro mutant): a reshaped activation made TFLM overrun its output."""
    if model == "micro":
        tfl = builders.tflite_reshaped_activation(src["tflite-int8"], tmp_path / "t")
        path = builders.as_micro_pair(tfl.read_bytes(), src["micro"], tmp_path / "m")
    else:
        path = builders.tflite_reshaped_activation(src[model], tmp_path / "m")
    _refused(_load(server, tmp_path, path, timeout=300), "expected [1, K], [N, K], [1, N]")


# --------------------------------------------------------------------------- 2. hangs: ONNX Loop


@pytest.mark.parametrize("trips", [1 << 40, 1 << 62])
def test_finding2_onnx_loop_is_refused_before_a_session_runs_it(trips, src, server, tmp_path):
    path = builders.onnx_loop(src["onnx-float32"], tmp_path / "m", trips)
    r = _load(server, tmp_path, path, timeout=60)
    _refused(r, "control flow")


# --------------------------------------------------------------------------- 3. memory: Tile, a huge C array


def test_finding3_onnx_tile_is_refused(src, server, tmp_path):
    path = builders.onnx_tile(src["onnx-float32"], tmp_path / "m", 65536)
    r = _load(server, tmp_path, path)
    _refused(r, "'Tile'")
    assert r["maxrss"] < 512 << 20


def test_finding3_a_252_mib_c_array_is_refused_with_bounded_memory(server, tmp_path):
    path = builders.big_c_array(tmp_path / "m", 252)
    try:
        r = _load(server, tmp_path, path)
    finally:
        path.unlink()
    _refused(r, "larger than the C array of any model")
    assert r["maxrss"] < 512 << 20


# --------------------------------------------------------------------------- 4-5. printing from files


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_finding4_info_prints_lone_surrogates_without_a_traceback(encoding, src, server, tmp_path):
    path = builders.copy_with_manifest(src["tflite-int8"], tmp_path / "m", builders.surrogate_fields)
    r = _cli(server, tmp_path, ["info", path], encoding=encoding)
    assert r["rc"] == 0, r
    assert r["stdout"].count("\ufffd" if encoding == "utf-8" else "\\ufffd") == 2, r[
        "stdout"
    ]  # reasons and io; tools prints as JSON (\\udcff)
    r = _cli(server, tmp_path, ["info", "--json", path], encoding=encoding)
    assert r["rc"] == 0 and "\\ud800" in r["stdout"], r


def test_finding4_created_has_a_fixed_form(src, server, tmp_path):
    path = builders.copy_with_manifest(src["tflite-int8"], tmp_path / "m", builders.surrogate_created)
    r = _cli(server, tmp_path, ["info", path], encoding="utf-8")
    assert r["rc"] == 2 and "created must be an ISO 8601 date-time" in r["stderr"], r


def test_finding5_a_newline_in_reasons_cannot_forge_a_second_error_line(src, server, tmp_path, data_arg):
    path = builders.copy_with_manifest(src["tflite-int8"], tmp_path / "m", builders.forged_reason)
    r = _cli(server, tmp_path, ["evaluate", path, *data_arg])
    lines = r["stderr"].strip("\n").split("\n")
    assert r["rc"] == 1 and len(lines) == 1 and lines[0].startswith("error: "), r
    assert "\\x0aerror: FORGED" in lines[0], lines
    r = _cli(server, tmp_path, ["info", path])
    assert r["rc"] == 0 and "\nerror: FORGED" not in r["stdout"], r


def test_finding5_info_prints_no_escape_sequences(src, server, tmp_path):
    path = builders.copy_with_manifest(src["tflite-int8"], tmp_path / "m", builders.ansi_fields)
    r = _cli(server, tmp_path, ["info", path])  # problems() fails on any control character printed
    assert r["rc"] == 0 and "\\x1b[2J" in r["stdout"] and "\\x9b2J" in r["stdout"], r["stdout"]
    assert "\\u202e" in r["stdout"] and "\\u2028" in r["stdout"], r["stdout"]


def test_finding5_sha256_must_be_64_hex_digits(src, server, tmp_path):
    path = builders.copy_with_manifest(src["tflite-int8"], tmp_path / "m", builders.bad_sha)
    _refused(_load(server, tmp_path, path), "64")


# --------------------------------------------------------------------------- 6. native logs


def test_finding6_native_log_lines_never_reach_the_user(src, server, tmp_path, data_arg):
    """The tiled model evaluated under a 2 GB limit: ORT used to log a coloured line before edgemnist's error."""
    path = builders.onnx_tile(src["onnx-float32"], tmp_path / "m", 65536)
    r = _cli(server, tmp_path, ["evaluate", path, *data_arg], memory=2 << 30)
    assert r["rc"] == 2 and r["stderr"].count("\n") == 1 and "\x1b" not in r["stderr"], r


# --------------------------------------------------------------------------- 7. manifest oddities, length constant


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling", "dev-zero"])
@pytest.mark.parametrize("model", ["tflite-int8", "micro"])
def test_finding7_a_manifest_path_that_is_not_a_file_is_an_error(kind, model, src, server, tmp_path):
    path = builders.odd_manifest(src[model], tmp_path / "m", kind)
    _refused(_load(server, tmp_path, path, timeout=120), "not a regular file")


@pytest.mark.parametrize("spelling", builders.LENGTH_SPELLINGS)
def test_finding7_the_length_constant_has_one_spelling(spelling, src, server, tmp_path):
    path = builders.micro_length(src["micro"], tmp_path / "m", builders.LENGTH_SPELLINGS[spelling])
    _refused(_load(server, tmp_path, path), "g_edgemnist_model_data_len")


# --------------------------------------------------------------------------- 8. a vouching manifest


def test_finding8_an_unsigned_manifest_cannot_lift_the_arena_check(src, server, tmp_path):
    path = builders.micro_small_arena_vouched(src["micro"], tmp_path / "m")
    r = _load(server, tmp_path, path, timeout=300)
    # The header's arena does not run (a child process finds out); the arena is measured again and the pair loads.
    assert r["outcome"] in ("loaded", "error"), r


# --------------------------------------------------------------------------- signed deployment


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("vendor", "attacker"):
        key = ec.generate_private_key(ec.SECP256R1())
        (folder / f"{name}.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (folder / f"{name}.pub.pem").write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        out[name] = (folder / f"{name}.pem", folder / f"{name}.pub.pem")
    return out


def _signed_copy(src: Path, folder: Path, key: Path) -> Path:
    from edgemnist.signer import sign

    path = builders.copy_with_manifest(src, folder)
    sign(path, key)
    return path


def _rehash(path: Path) -> None:
    import hashlib
    import json

    m = Path(str(path) + ".json")
    manifest = json.loads(m.read_text())
    manifest["artifact"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    m.write_text(json.dumps(manifest))


@pytest.mark.parametrize("model", ["tflite-int8", "onnx-float32", "micro"])
def test_signed_artifacts_load_and_a_rehashed_tampered_pair_is_refused(model, src, keys, server, tmp_path):
    requires("model_signing")
    vendor_pub = str(keys["vendor"][1])
    path = _signed_copy(src[model], tmp_path / "m", keys["vendor"][0])
    r = _load(server, tmp_path, path, kwargs={"public_key": vendor_pub})
    assert r["outcome"] == "loaded" and r["finite"], r
    # Tamper the artifact and re-hash its manifest: the manifest alone cannot tell, the signature can.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01 if model != "micro" else 0
    if model == "micro":
        text = path.read_text()
        i = text.index("0x", len(text) // 2)
        data = bytearray((text[:i] + ("0x01" if text[i : i + 4] != "0x01" else "0x02") + text[i + 4 :]).encode())
    path.write_bytes(bytes(data))
    _rehash(path)
    r = _load(server, tmp_path, path, kwargs={"public_key": vendor_pub})
    _refused(r, "changed since it was signed")
    assert r["type"] == "SignatureError"


def test_missing_or_foreign_signatures_are_refused(src, keys, server, tmp_path):
    requires("model_signing")
    path = _signed_copy(src["tflite-int8"], tmp_path / "m", keys["attacker"][0])
    r = _load(server, tmp_path, path, kwargs={"public_key": str(keys["vendor"][1])})
    _refused(r, "signed with another key")
    Path(str(path) + ".sig").unlink()
    _refused(_load(server, tmp_path, path, kwargs={"public_key": str(keys["vendor"][1])}), "no signature")


def test_finding8_signed_by_an_attacker_the_small_arena_pair_is_refused(src, keys, server, tmp_path):
    requires("model_signing")
    from edgemnist.signer import sign

    path = builders.micro_small_arena_vouched(src["micro"], tmp_path / "m")
    sign(path, keys["attacker"][0])
    _refused(_load(server, tmp_path, path, kwargs={"public_key": str(keys["vendor"][1])}), "another key")


def test_only_a_verified_signature_skips_the_micro_child_process_check(src, keys, tmp_path, monkeypatch):
    """In-process, on a genuine pair: with the child-process arena check made to fail, the signed pair still
    loads (the signature vouched for array and header) and the unsigned one, manifest and all, does not."""
    requires("model_signing")
    from edgemnist.errors import ArtifactError
    from edgemnist.predictor import Predictor, micro

    path = _signed_copy(src["micro"], tmp_path / "m", keys["vendor"][0])

    def refuse(model_bytes, arena):
        raise ArtifactError("the child-process check ran")

    monkeypatch.setattr(micro, "ensure_runs", refuse)
    with pytest.raises(ArtifactError, match="child-process check ran"):
        Predictor.load(path)  # a matching manifest is not enough
    with Predictor.load(path, public_key=keys["vendor"][1]) as p:
        assert p.describe()["details"]["arena_from"] == "model_data.h"
        assert p.predict(np.zeros((2, 784), np.uint8)).labels.shape == (2,)


def test_cli_sign_then_verify_everywhere(src, keys, server, tmp_path, data_arg):
    requires("model_signing")
    path = builders.copy_with_manifest(src["onnx-int8"], tmp_path / "m")
    r = _cli(server, tmp_path, ["sign", path, "--key", keys["vendor"][0], "--verify-with", keys["vendor"][1]])
    assert r["rc"] == 0 and "(verified)" in r["stdout"], r
    pub = ["--public-key", keys["vendor"][1]]
    assert _cli(server, tmp_path, ["info", path, *pub])["rc"] == 0
    assert _cli(server, tmp_path, ["evaluate", path, *data_arg, *pub])["rc"] == 0
    r = _cli(server, tmp_path, ["evaluate", path, *data_arg, "--public-key", keys["attacker"][1]])
    assert r["rc"] == 1 and r["stderr"].startswith("error: ") and "another key" in r["stderr"], r
    r = _cli(server, tmp_path, ["info", path, "--public-key", tmp_path / "nope.pem"])
    assert r["rc"] == 2 and "no public key file" in r["stderr"], r


def test_export_sign_writes_a_signature_the_device_accepts(request, keys, tmp_path, data_arg):
    requires("model_signing")
    import shutil
    import subprocess
    import sys

    from edgemnist.signing import verify

    folder = os.environ.get("EDGEMNIST_ARTIFACTS")
    model = Path(folder) / "model.keras" if folder else request.getfixturevalue("model_path")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(model, out / "model.keras")
    shutil.copyfile(str(model) + ".json", out / "model.keras.json")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgemnist",
            "export",
            "--format",
            "tflite",
            "--quantize",
            "float32",
            "--out",
            str(out),
            "--sign",
            str(keys["vendor"][0]),
            *data_arg,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=harness.REPO,
        env={**os.environ, "PYTHONPATH": str(harness.REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    artifact = out / "model.float32.tflite"
    assert f"signed: {artifact}.sig" in proc.stdout
    assert set(verify(artifact, keys["vendor"][1]).files) == {"model.float32.tflite", "model.float32.tflite.json"}
