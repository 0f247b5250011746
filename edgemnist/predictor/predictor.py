"""``Predictor``: load an artifact with the runtime its suffix names, and run it on images.

The manifest beside the artifact is read when present: its sha256 is checked, a failed verification refuses
to load, and its tensor facts must agree with what the runtime reports (``_reconcile``). Images are validated by
``edgemnist.predictor.inputs`` and converted by ``edgemnist.predictor.convert``; callers only ever see float32
probabilities.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edgemnist import spec
from edgemnist.errors import (
    ArtifactError,
    ConfigError,
    EdgemnistError,
    ManifestError,
    UnverifiedError,
    first_line,
    require_file,
)
from edgemnist.manifest import FROM_FILE, weight_bits
from edgemnist.predictor.base import Backend, TensorSpec
from edgemnist.predictor.convert import QRANGE, is_pixel_scale, pipelines
from edgemnist.predictor.inputs import as_batch
from edgemnist.safetext import safe

_U8 = np.dtype(np.uint8)
_W = spec.INPUT_SIZE
_ROW = (1, _W)
_HW = spec.IMAGE_SHAPE
#: No artifact of this model comes near this size; a larger file is refused before it is hashed or parsed.
MAX_ARTIFACT_BYTES = 256 << 20


class Prediction(NamedTuple):
    """Labels (int64, (N,)) and the probability of each label (float32, (N,))."""

    labels: np.ndarray
    confidences: np.ndarray


def _read_artifact(path: Path) -> bytes:
    """The artifact's bytes (its size was checked against MAX_ARTIFACT_BYTES), read once for hash and runtime."""
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_ARTIFACT_BYTES + 1)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _mode_from_name(path: Path, modes: tuple[str, ...]) -> str | None:
    m = re.match(
        r"^[^.]+\.([A-Za-z0-9_]+)(?:-[A-Za-z0-9_]+)*\.[^.]+$", path.name
    )  # model.<mode>[-<io>io][-w4].<suffix>
    return m.group(1) if m and m.group(1) in modes else None


class Predictor:
    """Run an artifact on images. Build it with ``Predictor.load(path)``; it is safe to share across threads."""

    def __init__(
        self,
        backend: Backend,
        *,
        path: str | Path | None = None,
        format: str | None = None,
        manifest: dict[str, Any] | None = None,
        quantization: str | None = None,
        threads: int = 1,
    ) -> None:
        self.backend = backend
        self.path = None if path is None else Path(path)
        self.format = format
        self.manifest = manifest
        self.threads = threads
        origin = str(self.path) if self.path is not None else type(backend).__name__
        m_origin = f"{origin}.json" if self.path is not None else "manifest"
        self.input = _reconcile(backend.input, manifest and manifest.get("input"), "input", _W, origin, m_origin)
        self.output = _reconcile(backend.output, manifest and manifest.get("output"), "output", None, origin, m_origin)
        if manifest is not None:
            quantization = manifest["quantization"]
        self.quantization = quantization or backend.quantization() or "unknown"
        #: Bits of each layer's weights from the manifest (``{"hidden": 4, "probabilities": 8}``), None if unstated.
        self.weight_bits = weight_bits(manifest)
        if self.quantization == "dynamic":
            # A dynamically quantized activation's scale is computed over the whole input tensor, so a batched
            # call would make each image's answer depend on its neighbours: the backend goes per image.
            backend.per_image()
        self._from_u8, self._from_float = pipelines(self.input, self.output, backend)

    @property
    def num_classes(self) -> int:
        """How many classes the model answers: its output tensor's width (the artifact's own fact)."""
        return int(self.output.shape[1])

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        path: str | Path,
        threads: int = 1,
        *,
        check_hash: bool = True,
        allow_unverified: bool = False,
        self_test: bool | None = None,
        public_key: Any = None,
        manifest: Any = FROM_FILE,
    ) -> Predictor:
        """Load ``path`` with the runtime its suffix names.

        Raises ArtifactError (missing, empty, oversized, malformed or unreadable file, unknown suffix),
        ManifestError (bad manifest, or one that contradicts the model), ArtifactChangedError (sha256 differs
        from the manifest's, unless ``check_hash=False``), GateError (the manifest records a failed
        verification, unless ``allow_unverified=True``) and MissingDependencyError (runtime not installed).

        ``self_test``: run a blank and an all-white image and refuse (ArtifactError) a model whose answer is
        not finite probabilities summing to 1. The default (None) does so exactly when no manifest's sha256
        vouched for the bytes (no manifest, or ``check_hash=False``).

        ``public_key`` (a PEM file, PEM bytes or a ``cryptography`` EC public key): refuse (SignatureError)
        unless ``<path>.sig`` is a valid signature by that key over exactly this artifact, its manifest and
        its companions as they are now, checked before any runtime (or the manifest parser) sees the bytes.
        Only such a signature lets the micro backend trust a header's arena without a child-process run.

        ``manifest``: the manifest beside ``path`` as ``read_manifest`` already returned it (None: there is none),
        handed along so that it is not read again; by default (``FROM_FILE``) it is read here. Everything above
        is checked against it as against a manifest read here (format, sha256, verification). Not with
        ``public_key``: a signature vouches for the manifest file itself, which is then read after the check.
        """
        from edgemnist.fileio import sha256_bytes
        from edgemnist.formats import format_for_path
        from edgemnist.manifest import check_sha256, manifest_path, read_manifest

        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        if public_key is not None and manifest is not FROM_FILE:
            raise ConfigError(
                "manifest= hands along a manifest already read; with public_key= it is read here, after "
                "its signature is checked"
            )
        path = Path(path)
        fmt = format_for_path(path)
        require_file(path)
        if not path.is_file():
            raise ArtifactError(f"{path}: not a file; expected a {fmt.suffix} model")
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise ArtifactError(
                f"{path}: {size} bytes, larger than any {fmt.name} model of this network "
                f"({MAX_ARTIFACT_BYTES} bytes at most); refusing to load it"
            )
        if public_key is not None:
            from edgemnist.signing import verify

            verify(path, public_key)
        if manifest is FROM_FILE:
            manifest = read_manifest(path, required=public_key is not None)
        backend_cls = fmt.load_backend()
        data = None  # the artifact's bytes, when they are read here once for the hash and the runtime alike
        if manifest is not None:
            if manifest["format"] != fmt.name:
                raise ManifestError(
                    f"{manifest_path(path)}: says format {manifest['format']!r} but {path.name} is a {fmt.name} file"
                )
            if check_hash:
                digest = None
                if backend_cls.reads_bytes:
                    data = _read_artifact(path)
                    digest = sha256_bytes(data)
                check_sha256(path, manifest, digest)
            ver = manifest.get("verification")
            if ver is not None and not ver["passed"] and not allow_unverified:
                reasons = safe("; ".join(str(r) for r in ver.get("reasons") or []) or "no reason recorded")
                raise UnverifiedError(
                    f"{path}: failed verification at export ({reasons}); refusing to load it "
                    f"(load it with allow_unverified=True to use it anyway)"
                )
        else:
            import logging  # only here: the device path with a manifest never imports logging

            logging.getLogger(__name__).debug("%s: no manifest; taking tensor facts from the model", path)
        if size == 0:
            raise ArtifactError(f"{path}: not a loadable {fmt.name} model: the file is empty (0 bytes)")
        try:
            backend = backend_cls(path, threads=threads) if data is None else backend_cls(path, threads, data=data)
        except (EdgemnistError, MemoryError):
            raise
        except Exception as exc:  # whatever a runtime's wrapper raises on a malformed file
            raise ArtifactError(
                f"{path}: {fmt.runtime} cannot load it ({type(exc).__name__}: {first_line(exc)})"
            ) from None
        try:
            quant = None if manifest else (backend.quantization() or _mode_from_name(path, fmt.mode_names))
            predictor = cls(backend, path=path, format=fmt.name, manifest=manifest, quantization=quant, threads=threads)
            vouched = manifest is not None and check_hash  # a manifest's sha256 vouched for these bytes
            if self_test is None:
                self_test = not vouched
            if self_test:
                predictor._self_test()
        except BaseException:
            backend.close()
            raise
        return predictor

    def _self_test(self) -> None:
        """Refuse a model that does not map a blank and an all-white image to probabilities."""
        probe = np.zeros((2, _W), dtype=_U8)
        probe[1] = 255
        proba = self.predict_proba(probe)
        sums = proba.sum(axis=1, dtype=np.float64) if proba.shape == (2, self.num_classes) else None
        if sums is None or not (
            np.isfinite(proba).all()
            and proba.min() >= 0.0
            and proba.max() <= 1.0 + 1e-6
            and np.abs(sums - 1.0).max() <= spec.prob_sum_atol(self.num_classes)
        ):
            raise ArtifactError(
                f"{self.path}: the model does not answer a blank and a white test image with "
                f"probabilities (got {np.array2string(proba, precision=3, threshold=20)}); "
                f"the file is corrupt or not a classifier of 28x28 images"
            )

    # ----------------------------------------------------------------- inference

    def predict_proba(self, images: Any) -> np.ndarray:
        """Probabilities (N, K) float32 (K = ``num_classes``) for uint8 pixels or floats in [0, 1] shaped
        (28, 28)/(N, 28, 28)/(N, 784).

        Raises InputError for anything else, and ArtifactError if the runtime itself fails.
        """
        try:
            if type(images) is np.ndarray and images.dtype is _U8 and images.flags.c_contiguous:
                shape = images.shape
                if shape == _HW:
                    return self._from_u8(images.reshape(_ROW))
                if len(shape) == 2 and shape[1] == _W and shape[0]:
                    return self._from_u8(images)
                if len(shape) == 3 and shape[1:] == _HW and shape[0]:
                    return self._from_u8(images.reshape(shape[0], _W))
            x = as_batch(images)
            return self._from_u8(x) if x.dtype == _U8 else self._from_float(x)
        except (EdgemnistError, MemoryError):
            raise
        except Exception as exc:  # the native runtime failed (free: try costs nothing until it raises)
            raise ArtifactError(
                f"{self.path or self.backend.runtime}: the {self.backend.runtime} runtime failed "
                f"({type(exc).__name__}: {first_line(exc)})"
            ) from None

    def predict(self, images: Any) -> Prediction:
        """Most probable label and its probability for each image."""
        proba = self.predict_proba(images)
        labels = proba.argmax(axis=1)
        return Prediction(labels.astype(np.int64, copy=False), proba[np.arange(len(labels)), labels])

    __call__ = predict

    # ----------------------------------------------------------------- misc

    def describe(self) -> dict[str, Any]:
        """What the runtime reports: tensors, quantization, runtime details."""
        return {
            "path": None if self.path is None else str(self.path),
            "format": self.format,
            "quantization": self.quantization,
            "runtime": self.backend.runtime,
            "threads": self.threads,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "integer_pixel_path": is_pixel_scale(self.input),
            **({"bytes": self.path.stat().st_size} if self.path is not None and self.path.is_file() else {}),
            "details": self.backend.details(),
        }

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Predictor({str(self.path)!r}, format={self.format!r}, quantization={self.quantization!r}, "
            f"runtime={self.backend.runtime!r}, input={self.input.dtype}, output={self.output.dtype})"
        )


def _reconcile(
    model: TensorSpec, declared: dict | None, which: str, width: int | None, origin: str, m_origin: str
) -> TensorSpec:
    """The tensor's facts: the model's own, checked against the manifest's when there is one. ``width``: the
    one the contract fixes (the 784 pixels); None: any class count from spec.MIN_CLASSES to spec.MAX_CLASSES."""
    if declared is not None:
        m = TensorSpec.from_dict(declared)
        if model.quantized and model.scale is None and model.dtype == m.dtype:
            # The runtime does not expose I/O quantization (ONNX Runtime): take scale/zero point from the manifest.
            model = TensorSpec(model.name, model.shape, model.dtype, m.scale, m.zero_point)
        diffs = m.mismatch(model)
        if diffs:
            raise ManifestError(
                f"{m_origin}: the manifest's {which} tensor contradicts the model "
                f"(manifest vs model: {'; '.join(diffs)})"
            )
    if width is None:
        if len(model.shape) != 2 or not spec.MIN_CLASSES <= model.shape[1] <= spec.MAX_CLASSES:
            raise ArtifactError(
                f"{origin}: {which} tensor has shape {list(model.shape)}; expected [N, K] with "
                f"{spec.MIN_CLASSES} <= K <= {spec.MAX_CLASSES} classes"
            )
    elif len(model.shape) != 2 or model.shape[1] != width:
        raise ArtifactError(f"{origin}: {which} tensor has shape {list(model.shape)}; expected [N, {width}]")
    if model.quantized:
        lo, hi = QRANGE[model.dtype]
        if model.scale is None or model.zero_point is None:
            raise ArtifactError(
                f"{origin}: {which} tensor is {model.dtype} but its scale and zero point are unknown "
                f"(the runtime does not report them and there is no manifest)"
            )
        if not (math.isfinite(model.scale) and model.scale > 0 and lo <= model.zero_point <= hi):
            raise ArtifactError(
                f"{origin}: {which} tensor has invalid quantization scale={model.scale} zero_point={model.zero_point}"
            )
    return model
