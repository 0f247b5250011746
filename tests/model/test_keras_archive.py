"""A .keras zip bomb is refused before Keras reads it."""

from __future__ import annotations

import pytest

from edgemnist.errors import ArtifactError


def test_keras_archive_bombs_are_refused_before_keras_reads_them(tmp_path):
    import zipfile

    from edgemnist.model import MAX_KERAS_UNCOMPRESSED, load_model

    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.weights.h5", b"\0" * (MAX_KERAS_UNCOMPRESSED + 1))
    with pytest.raises(ArtifactError, match="inflating to"):
        load_model(path)
