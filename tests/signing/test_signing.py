"""Signed artifacts: edgemnist's device-side verifier (cryptography only) against model-signing's own, both ways.

Bundles are made by edgemnist.signing.sign (the model-signing library, key mode) and by an independent
cryptography-only implementation of the same format written here from the spec (DSSE over an in-toto v1
statement, Sigstore bundle v0.3); each is verified by edgemnist.signing.verify and by model-signing's
verifier, intact and tampered in every way listed below. No TensorFlow, no trained model: the files are
small stand-ins under the real names (signing does not read what a file holds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from toolchains import imported, requires

from edgemnist import signer, signing
from edgemnist.errors import ConfigError, SignatureError

ec = imported("cryptography.hazmat.primitives.asymmetric.ec")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402

REPO = Path(__file__).resolve().parents[2]  # tests/signing/ -> the repository


def _keypair(folder: Path, name: str, curve=None) -> tuple[Path, Path]:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    priv, pub = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    priv.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return priv, pub


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {
        "good": _keypair(folder, "good"),
        "other": _keypair(folder, "other"),
        "p384": _keypair(folder, "p384", ec.SECP384R1()),
    }


def _unit(folder: Path, kind: str) -> Path:
    """An artifact with its manifest (and header for micro) under the real names."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "micro":
        artifact = folder / "model_data.cc"
        (folder / "model_data.h").write_text("// header\nconstexpr int kEdgemnistInputSize = 784;\n")
    else:
        artifact = folder / "model.int8.tflite"
    artifact.write_bytes(os.urandom(4096) + b"TFL3")
    (folder / (artifact.name + ".json")).write_text(json.dumps({"schema": "edgemnist.manifest/1", "n": 1}))
    return artifact


# --------------------------------------------------------------------------- an independent signer


def mini_sign(artifact: Path, names: list[str], private_pem: Path) -> Path:
    """The bundle format from its spec, with cryptography alone (no model-signing, no edgemnist.signing)."""
    key = serialization.load_pem_private_key(private_pem.read_bytes(), None)
    resources = [
        {"name": n, "algorithm": "sha256", "digest": hashlib.sha256((artifact.parent / n).read_bytes()).hexdigest()}
        for n in sorted(names)
    ]
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": artifact.name, "digest": {"sha256": root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "resources": resources,
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
        },
    }
    payload = json.dumps(statement, indent=2).encode()
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
    der = key.sign(pae, ec.ECDSA(hashes.SHA256()))
    spki = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(spki).hexdigest()}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": ptype,
            "signatures": [{"sig": base64.b64encode(der).decode(), "keyid": ""}],
        },
    }
    out = signing.signature_path(artifact)
    out.write_text(json.dumps(bundle))
    return out


def _make(maker: str, artifact: Path, names: list[str], private_pem: Path) -> Path:
    if maker == "model-signing":
        keep = {p.name: p.read_bytes() for p in artifact.parent.iterdir() if p.name not in names}
        for n in keep:  # edgemnist.signer.sign signs the artifact's own set; shape the folder to `names`
            (artifact.parent / n).unlink()
        try:
            return signer.sign(artifact, private_pem)
        finally:
            for n, data in keep.items():
                (artifact.parent / n).write_bytes(data)
    return mini_sign(artifact, names, private_pem)


# --------------------------------------------------------------------------- the two verifiers


def ours(artifact: Path, public_pem: Path) -> str | None:
    try:
        signing.verify(artifact, public_pem)
        return None
    except SignatureError as exc:
        return str(exc)


def theirs(artifact: Path, public_pem: Path) -> str | None:
    """model-signing's verifier on the folder holding the artifact (its .sig ignored), in a child process so
    this test process never imports the 65 MB library's import side effects."""
    requires("model_signing")
    code = (
        "import sys\nfrom model_signing import verifying, hashing\n"
        "h = hashing.Config().set_ignored_paths(paths=[sys.argv[3]], ignore_git_paths=False)\n"
        "try:\n"
        "    verifying.Config().use_elliptic_key_verifier(public_key=sys.argv[2]).set_hashing_config(h)"
        ".verify(sys.argv[1], sys.argv[1] + '/' + sys.argv[3])\n"
        "except Exception as exc:\n    print(type(exc).__name__, str(exc)[:300]); sys.exit(1)\n"
    )
    sig = signing.signature_path(artifact)
    if not sig.exists():
        return "no signature"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(artifact.parent), str(public_pem), sig.name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return None if proc.returncode == 0 else (proc.stdout.strip() or proc.stderr.strip()[-300:])


VERIFIERS = {"edgemnist": ours, "model-signing": theirs}
MAKERS = ("model-signing", "cryptography")


# --------------------------------------------------------------------------- tampering


def _flip(path: Path, pos: int = 100) -> None:
    b = bytearray(path.read_bytes())
    b[pos] ^= 1
    path.write_bytes(bytes(b))


def _rename(artifact: Path) -> Path:
    new = artifact.with_name("model.float32.tflite")
    for old_name, new_name in (
        (artifact.name, new.name),
        (artifact.name + ".json", new.name + ".json"),
        (artifact.name + ".sig", new.name + ".sig"),
    ):
        os.replace(artifact.parent / old_name, artifact.parent / new_name)
    return new


def _forge(artifact: Path) -> None:
    """Tamper the artifact and rewrite the statement to its new sha256, keeping the old signature."""
    _flip(artifact)
    sig = signing.signature_path(artifact)
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    resources = statement["predicate"]["resources"]
    for r in resources:
        r["digest"] = hashlib.sha256((artifact.parent / r["name"]).read_bytes()).hexdigest()
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(
        b"".join(bytes.fromhex(r["digest"]) for r in resources)
    ).hexdigest()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(bundle))


def _forge_signature_bytes(artifact: Path) -> None:
    sig = signing.signature_path(artifact)
    bundle = json.loads(sig.read_text())
    der = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    der[-3] ^= 0x40
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(der)).decode()
    sig.write_text(json.dumps(bundle))


# case: (kind, files signed, tamper(artifact) -> artifact, key to verify with, accepted?)
CASES = {
    "intact": ("tflite", "all", None, "good", True),
    "intact-micro": ("micro", "all", None, "good", True),
    "tampered-artifact": ("tflite", "all", lambda a: _flip(a), "good", False),
    "tampered-manifest": (
        "tflite",
        "all",
        lambda a: (a.parent / (a.name + ".json")).write_text('{"n": 2}'),
        "good",
        False,
    ),
    "tampered-header": ("micro", "all", lambda a: _flip(a.with_suffix(".h"), 5), "good", False),
    "extra-unsigned-header": (
        "micro",
        "no-header",
        lambda a: (a.with_suffix(".h")).write_text("// added\n"),
        "good",
        False,
    ),
    "missing-manifest": ("tflite", "all", lambda a: (a.parent / (a.name + ".json")).unlink(), "good", False),
    "missing-header": ("micro", "all", lambda a: a.with_suffix(".h").unlink(), "good", False),
    "renamed": ("tflite", "all", _rename, "good", False),
    "wrong-key": ("tflite", "all", None, "other", False),
    "forged-statement": ("tflite", "all", _forge, "good", False),
    "forged-signature": ("tflite", "all", _forge_signature_bytes, "good", False),
    "signature-missing": ("tflite", "all", lambda a: signing.signature_path(a).unlink(), "good", False),
}


@pytest.mark.parametrize("verifier", VERIFIERS)
@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("case", CASES)
def test_cross_verification_matrix(case, maker, verifier, keys, tmp_path):
    if maker == "model-signing":
        requires("model_signing")
    kind, which, tamper, key, accepted = CASES[case]
    artifact = _unit(tmp_path / "unit", kind)
    names = sorted(p.name for p in artifact.parent.iterdir())
    if which == "no-header":
        names = [n for n in names if not n.endswith(".h")]
        artifact.with_suffix(".h").unlink()
    _make(maker, artifact, names, keys["good"][0])
    if tamper is not None:
        moved = tamper(artifact)
        artifact = moved if isinstance(moved, Path) else artifact
    why = VERIFIERS[verifier](artifact, keys[key][1])
    if accepted:
        assert why is None, why
    else:
        assert why is not None, f"{verifier} accepted {case} ({maker} bundle)"


def test_statement_listing_an_extra_file_is_refused(keys, tmp_path):
    """A bundle made for the artifact plus another file is not this artifact's signature (edgemnist checks the
    exact set; model-signing, verifying a folder, would accept it if the other file sat there too)."""
    artifact = _unit(tmp_path / "u", "tflite")
    (artifact.parent / "notes.txt").write_text("x")
    mini_sign(artifact, ["model.int8.tflite", "model.int8.tflite.json", "notes.txt"], keys["good"][0])
    with pytest.raises(SignatureError, match="signs files that are not"):
        signing.verify(artifact, keys["good"][1])


def test_unrelated_files_in_the_folder_do_not_matter_to_the_device_verifier(keys, tmp_path):
    artifact = _unit(tmp_path / "u", "tflite")
    mini_sign(artifact, ["model.int8.tflite", "model.int8.tflite.json"], keys["good"][0])
    (artifact.parent / "model.float32.onnx").write_bytes(b"another artifact of the same export")
    assert signing.verify(artifact, keys["good"][1]).covers("model.int8.tflite")


def test_p384_keys_and_key_objects(keys, tmp_path):
    artifact = _unit(tmp_path / "u", "tflite")
    requires("model_signing")
    signer.sign(artifact, keys["p384"][0])
    public = serialization.load_pem_public_key(keys["p384"][1].read_bytes())
    assert signing.verify(artifact, public).files.keys() == {"model.int8.tflite", "model.int8.tflite.json"}
    assert signing.verify(artifact, keys["p384"][1].read_bytes())


_MT = '"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"'


@pytest.mark.parametrize(
    "bad",
    [
        "not a bundle",
        "[]",
        '{"mediaType": "x"}',
        "\udcff",
        "{" * 100_000,
        "{" + _MT + ', "verificationMaterial": {"publicKey": []}}',
        "{" + _MT + ', "verificationMaterial": [], "dsseEnvelope": []}',
        "{"
        + _MT
        + ', "dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "payload": "!!", "signatures": []}}',
        "{" + _MT + ', "dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", '
        '"signatures": [{"sig": "AAAA"}]}}',
        "{" + _MT + ', "dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", '
        '"signatures": [{"sig": 5}, {"sig": "AAAA"}]}}',
    ],
)
def test_hostile_bundles_are_signature_errors(bad, keys, tmp_path):
    artifact = _unit(tmp_path / "u", "tflite")
    signing.signature_path(artifact).write_bytes(bad.encode("utf-8", "surrogateescape"))
    with pytest.raises(SignatureError):
        signing.verify(artifact, keys["good"][1])


def test_signature_that_is_not_a_regular_file(keys, tmp_path):
    artifact = _unit(tmp_path / "u", "tflite")
    sig = signing.signature_path(artifact)
    sig.mkdir()
    with pytest.raises(SignatureError, match="not a regular file"):
        signing.verify(artifact, keys["good"][1])
    sig.rmdir()
    sig.symlink_to("/dev/zero")
    with pytest.raises(SignatureError, match="not a regular file"):
        signing.verify(artifact, keys["good"][1])


def test_bad_keys_are_config_errors(keys, tmp_path):
    artifact = _unit(tmp_path / "u", "tflite")
    (tmp_path / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    for key in (tmp_path / "missing.pem", tmp_path / "junk.pem", keys["good"][0]):  # a private key is no public key
        with pytest.raises(ConfigError):
            signing.verify(artifact, key)


def test_sign_needs_the_manifest(keys, tmp_path):
    requires("model_signing")
    artifact = _unit(tmp_path / "u", "tflite")
    (artifact.parent / (artifact.name + ".json")).unlink()
    with pytest.raises(Exception, match="manifest"):
        signer.sign(artifact, keys["good"][0])
    assert not signing.signature_path(artifact).exists()


def test_device_verifier_imports_no_model_signing(keys, tmp_path):
    """The device side: verification runs with model-signing, sigstore and OpenSSL made unimportable."""
    artifact = _unit(tmp_path / "u", "tflite")
    mini_sign(artifact, ["model.int8.tflite", "model.int8.tflite.json"], keys["good"][0])
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('model_signing', 'sigstore', 'sigstore_models', 'OpenSSL',"
        " 'tensorflow', 'keras'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from edgemnist import signing\n"
        "print(sorted(signing.verify(sys.argv[1], sys.argv[2]).files))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(artifact), str(keys["good"][1])],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "model.int8.tflite.json" in proc.stdout


def test_signature_file_is_written_atomically(keys, tmp_path, monkeypatch):
    requires("model_signing")
    artifact = _unit(tmp_path / "u", "tflite")
    signer.sign(artifact, keys["good"][0])
    before = signing.signature_path(artifact).read_bytes()
    monkeypatch.setattr(shutil, "copyfile", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        signer.sign(artifact, keys["good"][0])
    assert signing.signature_path(artifact).read_bytes() == before
    assert [p.name for p in artifact.parent.iterdir() if p.name.startswith(".")] == []
