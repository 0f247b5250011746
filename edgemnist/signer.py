"""Signing an artifact, its manifest and its companions as one unit (host side, ``pip install 'edgemnist[sign]'``).

``sign(artifact, private_key)`` uses the OpenSSF model-signing library itself (key mode) on exactly the files of
this artifact (artifact, ``<artifact>.json``, the companions its format names that exist), so model-signing's own
verifier accepts the bundle. The bundle's format, the files a signature covers and the verifier (which needs only
``cryptography``) are in :mod:`edgemnist.signing`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from edgemnist.errors import ConfigError
from edgemnist.signing import covered_names, file_sha256, read_key_bytes, signature_path


def sign(artifact: str | Path, private_key: str | Path, *, password: str | None = None) -> Path:
    """Sign ``artifact`` with its manifest and companions into ``<artifact>.sig``; return that path.

    Uses the model-signing library (key mode) on a private copy of exactly these files, so the bundle is
    model-signing's own. Raises ArtifactError/ConfigError for a missing artifact, manifest or key."""
    from edgemnist._deps import require
    from edgemnist.errors import ArtifactError
    from edgemnist.fileio import atomic_path

    require("OpenSSL", "sign", what="pyopenssl")  # model-signing 1.1.1 imports it without declaring it
    ms_signing = require("model_signing.signing", "sign", what="model-signing")
    ms_hashing = require("model_signing.hashing", "sign", what="model-signing")
    artifact = Path(artifact)
    required, optional = covered_names(artifact)
    folder = artifact.parent
    for name in required:
        if not (folder / name).is_file():
            raise ArtifactError(f"{folder / name}: missing; a signature covers the artifact and its manifest")
    names = required + [n for n in optional if (folder / n).is_file()]
    key = Path(private_key)
    read_key_bytes(key, "private")  # a clean error for a missing or oversized key file
    with tempfile.TemporaryDirectory(prefix="edgemnist-sign-") as tmp:
        unit = Path(tmp) / artifact.name  # the statement's subject is named after the artifact
        unit.mkdir()
        for name in names:
            shutil.copyfile(folder / name, unit / name)
        hashing = ms_hashing.Config().use_file_serialization(hashing_algorithm="sha256", allow_symlinks=False)
        hashing.set_ignored_paths(paths=[], ignore_git_paths=False)
        try:
            config = ms_signing.Config().use_elliptic_key_signer(private_key=key, password=password)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{key}: not a usable ECDSA P-256/P-384/P-521 PEM private key ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
        out = Path(tmp) / "bundle.sig"
        config.set_hashing_config(hashing).sign(unit, out)
        # The copies are what was signed: make sure they are still the files beside the artifact.
        for name in names:
            if file_sha256(folder / name) != file_sha256(unit / name):
                raise ArtifactError(f"{folder / name}: changed while it was being signed")
        target = signature_path(artifact)
        with atomic_path(target) as staged:
            shutil.copyfile(out, staged)
    return target
