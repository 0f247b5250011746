"""edgemnist sign ARTIFACT --key KEY.pem : sign an artifact with its manifest and companions (<artifact>.sig)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="exported artifacts (each with its manifest)")
    p.add_argument(
        "--key",
        required=True,
        metavar="KEY.pem",
        help="ECDSA P-256/P-384/P-521 private key (PEM); the device verifies with its public key",
    )
    p.add_argument(
        "--verify-with", metavar="PUBLIC.pem", help="verify each signature with this public key right after signing"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgemnist.errors import ArtifactError
    from edgemnist.formats import format_for_path
    from edgemnist.manifest import read_manifest
    from edgemnist.signer import sign
    from edgemnist.signing import verify

    for artifact in args.artifacts:  # every artifact is checked before anything is signed
        path = Path(artifact)
        format_for_path(path)
        if not path.is_file():
            raise ArtifactError(f"{path}: no such artifact file")
        read_manifest(path, required=True)
    for artifact in args.artifacts:
        sig = sign(artifact, args.key)
        if args.verify_with:
            files = verify(artifact, args.verify_with).files
            print(f"{sig}: signs {', '.join(sorted(files))} (verified)")
        else:
            print(f"{sig}")
    return 0
