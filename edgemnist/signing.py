"""Signed artifacts: an artifact, its manifest and its companions, signed as one unit.

The format is the OpenSSF model-signing one (``model-signing`` 1.1.x on PyPI, key mode): ``<artifact>.sig``
is a Sigstore bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``) holding a DSSE envelope whose
payload is an in-toto v1 statement (predicate ``https://model_signing/signature/v1.0``) that lists every
signed file by name with its sha256; the envelope is signed with an ECDSA key (P-256, P-384 or P-521).

- ``edgemnist.signer.sign(artifact, private_key)`` (host side, ``pip install 'edgemnist[sign]'``) uses the
  model-signing library itself on exactly the files of this artifact (artifact, ``<artifact>.json``, the companions its
  format names that exist), so model-signing's own verifier accepts the bundle.
- ``verify(artifact, public_key)`` (device side) needs only ``cryptography``: it checks the envelope's
  signature with the given public key, the statement's form, and that the signed files are exactly this
  artifact's (nothing extra, nothing missing, nothing renamed, no unsigned companion beside it) with the
  sha256 each file has now. Names in the statement are compared against names derived from the artifact's
  own path; they are never used to open anything.

A verified signature proves the files are the ones the key holder signed; it is what may lift the micro
backend's child-process arena check (an unsigned manifest can be rewritten by whoever replaces the files).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemnist.errors import ConfigError, SignatureError

SIGNATURE_SUFFIX = ".sig"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
#: A bundle of a handful of files is ~2 KB; a larger one is not ours and is not parsed.
MAX_BUNDLE_BYTES = 1 << 20
MAX_KEY_BYTES = 64 << 10
#: An artifact with its manifest and companions; the web format has the most (a page and its files).
MAX_SIGNED_FILES = 32
_CURVE_HASH = {"secp256r1": "SHA256", "secp384r1": "SHA384", "secp521r1": "SHA512"}


def signature_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SIGNATURE_SUFFIX)


def companion_names(artifact: str | Path) -> tuple[str, ...]:
    """Names of the files that travel with ``artifact`` besides its manifest: what its format's exporter
    writes beside it (``Exporter.companions``; micro: ``model_data.h``). Exporter modules import no
    TensorFlow, so the device side may ask."""
    from edgemnist.formats import format_for_path

    artifact = Path(artifact)
    fmt = format_for_path(artifact)
    if fmt.exporter is None:
        return ()
    return tuple(fmt.load_exporter().companions(artifact))


def covered_names(artifact: Path) -> tuple[list[str], list[str]]:
    """(names a signature must cover: the artifact and its manifest; names it covers when they exist: the
    companions the artifact's format names)."""
    from edgemnist.manifest import manifest_path

    return [artifact.name, manifest_path(artifact).name], [n for n in companion_names(artifact)]


# --------------------------------------------------------------------------- keys


def read_key_bytes(key: str | Path | bytes, what: str) -> bytes:
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    path = Path(key)
    if not path.is_file():
        raise ConfigError(f"{path}: no {what} key file (expected a PEM file)")
    if path.stat().st_size > MAX_KEY_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_KEY_BYTES} bytes; not a PEM {what} key")
    return path.read_bytes()


def _crypto():
    from edgemnist._deps import require

    require("cryptography", "verify")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return hashes, serialization, ec


def load_public_key(key: Any):
    """A public EC key from a PEM file path, PEM bytes, or a ``cryptography`` key object."""
    hashes, serialization, ec = _crypto()
    if isinstance(key, ec.EllipticCurvePublicKey):
        public = key
    else:
        data = read_key_bytes(key, "public")
        try:
            public = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{key if not isinstance(key, bytes) else 'the public key'}: not a PEM public key "
                f"({type(exc).__name__})"
            ) from None
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name not in _CURVE_HASH:
        raise ConfigError("the public key is not an ECDSA P-256, P-384 or P-521 key")
    return public


def key_hint(public) -> str:
    """What model-signing records as ``publicKey.hint``: sha256 of the key's PEM SubjectPublicKeyInfo."""
    _, serialization, _ = _crypto()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


# --------------------------------------------------------------------------- verification (cryptography)


# sha256 digests of files a signature verified in this process (what ``vouched`` answers from).
_VERIFIED: set[str] = set()


def vouched(*digests: str) -> bool:
    """Did a signature verified in this process cover files with exactly these sha256 digests? (The micro
    backend asks this before it trusts a header's arena without running it in a child process first.)"""
    return bool(digests) and all(d in _VERIFIED for d in digests)


@dataclass(frozen=True)
class Verified:
    """What a verified signature covers: file name -> sha256, and the key's hint."""

    files: dict[str, str]
    key: str

    def covers(self, name: str, sha256: str | None = None) -> bool:
        return name in self.files and (sha256 is None or self.files[name] == sha256)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _b64(value: Any, what: str, origin: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureError(f"{origin}: {what} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{origin}: {what} is not valid base64") from None


def read_statement(sig: Path, public) -> dict[str, Any]:
    """The in-toto statement of the bundle at ``sig`` once its DSSE signature verified with ``public``."""
    from cryptography.exceptions import InvalidSignature

    hashes, _, ec = _crypto()
    origin = str(sig)
    if not sig.exists() and not sig.is_symlink():
        raise SignatureError(
            f"{sig}: no signature beside the artifact; a public key was given, so only a signed artifact is accepted"
        )
    if not sig.is_file():
        raise SignatureError(f"{sig}: not a regular file; expected a signature bundle")
    if sig.stat().st_size > MAX_BUNDLE_BYTES:
        raise SignatureError(f"{sig}: larger than {MAX_BUNDLE_BYTES} bytes; not a signature bundle")
    try:
        bundle = json.loads(sig.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise SignatureError(f"{sig}: not a readable signature bundle ({type(exc).__name__})") from None
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise SignatureError(f"{sig}: not a Sigstore bundle ({BUNDLE_MEDIA_TYPE})")
    material = bundle.get("verificationMaterial")
    key_id = material.get("publicKey", {}) if isinstance(material, dict) else {}
    if not isinstance(key_id, dict):
        raise SignatureError(f"{sig}: verificationMaterial.publicKey is malformed")
    hint = key_id.get("hint")
    if hint is not None and hint != key_hint(public):
        raise SignatureError(
            f"{sig}: signed with another key (key hint {str(hint)[:16]}…, the given public "
            f"key's is {key_hint(public)[:16]}…)"
        )
    env = bundle.get("dsseEnvelope")
    if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE:
        raise SignatureError(f"{sig}: no DSSE envelope of an in-toto statement")
    payload = _b64(env.get("payload"), "the payload", origin)
    sigs = env.get("signatures")
    if not (isinstance(sigs, list) and len(sigs) == 1 and isinstance(sigs[0], dict)):
        raise SignatureError(f"{sig}: expected exactly one signature in the envelope")
    raw = _b64(sigs[0].get("sig"), "the signature", origin)
    algorithm = getattr(hashes, _CURVE_HASH[public.curve.name])()
    try:
        public.verify(raw, pae(payload), ec.ECDSA(algorithm))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{sig}: the signature does not verify with the given public key; the files or the "
            f"signature were changed, or another key signed them"
        ) from None
    try:
        statement = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        raise SignatureError(f"{sig}: the signed payload is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise SignatureError(f"{sig}: the signed payload is not an in-toto v1 statement")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise SignatureError(f"{sig}: predicate type is not {PREDICATE_TYPE}")
    return statement


def _signed_files(statement: dict[str, Any], sig: Path) -> dict[str, str]:
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise SignatureError(f"{sig}: the statement has no predicate")
    ser = predicate.get("serialization")
    if not (isinstance(ser, dict) and ser.get("method") == "files" and ser.get("hash_type") == "sha256"):
        raise SignatureError(f"{sig}: expected a per-file sha256 serialization")
    resources = predicate.get("resources")
    if not (isinstance(resources, list) and 0 < len(resources) <= MAX_SIGNED_FILES):
        raise SignatureError(f"{sig}: expected 1 to {MAX_SIGNED_FILES} signed files")
    files: dict[str, str] = {}
    root = hashlib.sha256()
    for r in resources:
        if not (
            isinstance(r, dict)
            and isinstance(r.get("name"), str)
            and r.get("algorithm") == "sha256"
            and isinstance(r.get("digest"), str)
            and len(r["digest"]) == 64
        ):
            raise SignatureError(f"{sig}: a signed file entry is malformed")
        try:
            root.update(bytes.fromhex(r["digest"]))
        except ValueError:
            raise SignatureError(f"{sig}: a signed file's digest is not hex") from None
        if r["name"] in files:
            raise SignatureError(f"{sig}: a file is listed twice")
        files[r["name"]] = r["digest"].lower()
    subjects = statement.get("subject")
    if not (
        isinstance(subjects, list)
        and len(subjects) == 1
        and isinstance(subjects[0], dict)
        and isinstance(subjects[0].get("digest"), dict)
        and subjects[0]["digest"].get("sha256") == root.hexdigest()
    ):
        raise SignatureError(f"{sig}: the statement's subject digest does not match its files")
    return files


def verify(artifact: str | Path, public_key: Any) -> Verified:
    """Raise SignatureError unless ``<artifact>.sig`` is a valid signature by ``public_key`` over exactly this
    artifact, its manifest and the companions beside it, as they are now (see the module doc)."""
    from edgemnist.safetext import safe

    artifact = Path(artifact)
    public = load_public_key(public_key)
    sig = signature_path(artifact)
    files = _signed_files(read_statement(sig, public), sig)
    required, optional = covered_names(artifact)
    folder = artifact.parent
    extra = sorted(set(files) - set(required) - set(optional))
    if extra:
        raise SignatureError(
            f"{sig}: signs files that are not {artifact.name} and its manifest: "
            f"{safe(', '.join(extra), 200)} (made for other files, or the files were renamed)"
        )
    missing = [n for n in required if n not in files]
    if missing:
        raise SignatureError(
            f"{sig}: does not sign {', '.join(missing)} (made for other files, or the files were renamed)"
        )
    unsigned = [n for n in optional if n not in files and (folder / n).exists()]
    if unsigned:
        raise SignatureError(f"{sig}: {', '.join(unsigned)} lies beside the artifact but is not signed")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise SignatureError(f"{path}: signed but missing (or not a regular file)")
        if file_sha256(path) != digest:
            raise SignatureError(f"{path}: changed since it was signed (sha256 differs from the signature's)")
    _VERIFIED.update(files.values())
    return Verified(dict(files), key_hint(public))
