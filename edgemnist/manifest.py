"""The manifest JSON that travels beside every artifact (``<artifact>.json``).

It states what the artifact is (format, quantization, tensors with scale and zero point, preprocessing,
labels), where it came from (sha256 of artifact and source, calibration recipe, tool versions) and how it
verified. It is parsed as plain data: ``json.loads`` and type checks, nothing executed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from edgemnist.errors import ArtifactChangedError, ManifestError
from edgemnist.fileio import atomic_write_json, sha256_file
from edgemnist.safetext import is_iso_datetime, is_sha256

SCHEMA = "edgemnist.manifest/1"
MAX_MANIFEST_BYTES = 1 << 20
TENSOR_DTYPES = ("float32", "int8", "uint8")

TOOLS = (
    "edgemnist",
    "numpy",
    "keras",
    "tensorflow",
    "tensorflow-cpu",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "ai-edge-litert",
    "tflite-micro",
)


def manifest_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def tool_versions(names=TOOLS) -> dict[str, str]:
    from importlib import metadata  # lazy: ~40 ms of imports a device app loading an artifact never needs

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def now_iso() -> str:
    import datetime as _dt  # only when writing a manifest

    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def tensor_info(name: str, shape, dtype: str, scale: float | None = None, zero_point: int | None = None) -> dict:
    return {
        "name": name,
        "shape": [int(d) if d is not None and int(d) >= 0 else -1 for d in shape],
        "dtype": dtype,
        "scale": None if scale is None else float(scale),
        "zero_point": None if zero_point is None else int(zero_point),
    }


def write_manifest(artifact: str | Path, manifest: dict[str, Any]) -> Path:
    manifest = {"schema": SCHEMA, **{k: v for k, v in manifest.items() if k != "schema"}}
    validate(manifest, origin=str(manifest_path(artifact)))
    return atomic_write_json(manifest_path(artifact), manifest)


class _FromFile:
    def __repr__(self) -> str:
        return "FROM_FILE"


#: The ``manifest=`` default of ``Predictor.load`` and ``evaluate``: read the manifest beside the artifact. A caller
#: that has already read it (``read_manifest``: the record, or None for "there is none") hands that along instead,
#: so one path through the package reads each manifest once.
FROM_FILE: Any = _FromFile()


def read_manifest(artifact: str | Path, *, required: bool = False) -> dict[str, Any] | None:
    """The validated manifest beside ``artifact``, or None when there is none (unless ``required``)."""
    path = manifest_path(artifact)
    if not path.exists() and not path.is_symlink():
        if required:
            raise ManifestError(f"{path}: no manifest beside {Path(artifact).name}")
        return None
    if not path.is_file():  # a folder, FIFO, device or dangling link where the manifest belongs: never opened
        raise ManifestError(
            f"{path}: not a regular file; a manifest path that exists must be a JSON file "
            f"(remove it to load the artifact without a manifest)"
        )
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes; not a manifest")
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers longer than Python's digit limit;
        # RecursionError, arrays nested thousands deep.
        why = f"{type(exc).__name__}: nested too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ManifestError(f"{path}: not a readable JSON manifest ({why})") from None
    validate(data, origin=str(path))
    return data


def _fail(origin: str, what: str) -> None:
    raise ManifestError(f"{origin}: {what}")


def _check_tensor(t: Any, where: str, origin: str) -> None:
    if not isinstance(t, dict):
        _fail(origin, f"{where} must be an object")
    if not isinstance(t.get("name"), str):
        _fail(origin, f"{where}.name must be a string")
    shape = t.get("shape")
    if not (isinstance(shape, list) and shape and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)):
        _fail(origin, f"{where}.shape must be a list of integers")
    if t.get("dtype") not in TENSOR_DTYPES:
        _fail(origin, f"{where}.dtype must be one of {', '.join(TENSOR_DTYPES)}, got {t.get('dtype')!r}")
    scale, zp = t.get("scale"), t.get("zero_point")
    if not (scale is None or _is_number(scale)):
        _fail(origin, f"{where}.scale must be a number or null")
    if not (zp is None or isinstance(zp, int) and not isinstance(zp, bool)):
        _fail(origin, f"{where}.zero_point must be an integer or null")
    if t["dtype"] in ("int8", "uint8"):
        if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale) and scale > 0):
            _fail(origin, f"{where}.scale must be a positive finite number for a {t['dtype']} tensor")
        lo, hi = (-128, 127) if t["dtype"] == "int8" else (0, 255)
        if not (isinstance(zp, int) and not isinstance(zp, bool) and lo <= zp <= hi):
            _fail(origin, f"{where}.zero_point must be an integer in [{lo}, {hi}]")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


#: Optional numeric facts of ``verification`` that commands print or compare.
_VERIFICATION_NUMBERS = ("n", "accuracy", "agreement", "max_abs_diff", "mean_abs_diff", "threshold")


def validate(data: Any, *, origin: str) -> None:
    """Type-check a manifest; raise ManifestError naming the first field that is wrong."""
    from edgemnist.formats import FORMATS

    if not isinstance(data, dict):
        _fail(origin, "a manifest must be a JSON object")
    if data.get("schema") != SCHEMA:
        _fail(origin, f"schema must be {SCHEMA!r}, got {data.get('schema')!r}")
    fmt = data.get("format")
    if fmt not in FORMATS:
        _fail(origin, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if data.get("quantization") not in FORMATS[fmt].mode_names:
        _fail(origin, f"quantization must be one of {', '.join(FORMATS[fmt].mode_names)} for {fmt}")
    art = data.get("artifact")
    if not (isinstance(art, dict) and is_sha256(art.get("sha256"))):
        _fail(origin, "artifact.sha256 must be 64 lowercase hex digits")
    for key in ("input", "output"):
        _check_tensor(data.get(key), key, origin)
    if not isinstance(art.get("file", ""), str):
        _fail(origin, "artifact.file must be a string")
    if data.get("io") is not None and not isinstance(data["io"], str):
        _fail(origin, "io must be a string")
    src = data.get("source")
    if src is not None and not (
        isinstance(src, dict) and all(isinstance(src.get(k), str) for k in ("file", "sha256") if src.get(k) is not None)
    ):
        _fail(origin, "source must be null or an object with string 'file' and 'sha256'")
    if src is not None and src.get("sha256") is not None and not is_sha256(src["sha256"]):
        _fail(origin, "source.sha256 must be 64 lowercase hex digits")
    if data.get("created") is not None and not is_iso_datetime(data["created"]):
        _fail(origin, "created must be an ISO 8601 date-time")
    ver = data.get("verification")
    if ver is not None and not (isinstance(ver, dict) and isinstance(ver.get("passed"), bool)):
        _fail(origin, "verification must be an object with a boolean 'passed'")
    if ver is not None:
        reasons = ver.get("reasons")
        if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
            _fail(origin, "verification.reasons must be a list of strings")
        for key in _VERIFICATION_NUMBERS:
            if ver.get(key) is not None and not _is_number(ver[key]):
                _fail(origin, f"verification.{key} must be a number")
    weights = data.get("weights")
    if weights is not None:
        bits = weights.get("bits") if isinstance(weights, dict) else None
        if not (
            isinstance(bits, dict)
            and bits
            and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in bits.items())
        ):
            _fail(origin, "weights.bits must be an object of layer name -> integer bits")
    _check_model_facts(data, origin)
    section = data.get(fmt)
    if section is not None and not isinstance(section, dict):
        _fail(origin, f"{fmt} must be an object")
    header = (section or {}).get("header") if fmt == "micro" else None
    if header is not None and not (isinstance(header, dict) and is_sha256(header.get("sha256"))):
        _fail(origin, "micro.header must be null or an object with a 'sha256' of 64 lowercase hex digits")


def weight_bits(manifest: dict[str, Any] | None) -> dict[str, int] | None:
    """Bits of each layer's weights as the manifest records them (``--weight-bits 4|2`` exports), else None."""
    weights = (manifest or {}).get("weights")
    return dict(weights["bits"]) if isinstance(weights, dict) and isinstance(weights.get("bits"), dict) else None


def weights_text(manifest: dict[str, Any] | None) -> str | None:
    """One line on the weights' width: ``4-bit hidden (int4 levels, packed int4), 8-bit probabilities``; for
    an int8 artifact without a ``weights`` section, ``8-bit``; None when the manifest says nothing."""
    bits = weight_bits(manifest)
    if bits is None:
        return "8-bit" if (manifest or {}).get("quantization") == "int8" else None
    weights = manifest["weights"]
    recipe = weights.get("recipe") if isinstance(weights.get("recipe"), dict) else {}
    stored = weights.get("hidden_stored") if isinstance(weights.get("hidden_stored"), dict) else {}
    from edgemnist.safetext import safe  # every name below comes from the file: made safe to print

    parts = []
    for layer, n in bits.items():
        layer = safe(layer, 40)
        detail = []
        if n != 8 and isinstance(recipe.get("levels"), str):
            detail.append(f"{safe(recipe['levels'], 20)} levels")
        if n != 8 and stored.get("packed") is True and isinstance(stored.get("type"), str):
            detail.append(f"packed {safe(stored['type'], 20)}")
        parts.append(f"{n}-bit {layer}" + (f" ({', '.join(detail)})" if detail else ""))
    return ", ".join(parts)


def _check_model_facts(data: dict, origin: str) -> None:
    """``layers`` (widths, input to classes), ``labels`` and ``dataset``: optional, typed when present."""
    layers = data.get("layers")
    if layers is not None and not (
        isinstance(layers, list)
        and len(layers) >= 2
        and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in layers)
    ):
        _fail(origin, "layers must be null or a list of at least 2 positive integers")
    labels = data.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(v, (int, str)) for v in labels)):
        _fail(origin, "labels must be null or a list of integers or strings")
    ds = data.get("dataset")
    if ds is None:
        return
    if not (isinstance(ds, dict) and isinstance(ds.get("name"), str) and isinstance(ds.get("mnist"), bool)):
        _fail(origin, "dataset must be null or an object with a string 'name' and a boolean 'mnist'")
    classes = ds.get("classes")
    if classes is not None and not (isinstance(classes, int) and not isinstance(classes, bool) and classes >= 1):
        _fail(origin, "dataset.classes must be a positive integer")
    hashes = ds.get("sha256")
    if hashes is not None and not (isinstance(hashes, dict) and all(is_sha256(v) for v in hashes.values())):
        _fail(origin, "dataset.sha256 must be an object of 64-hex-digit hashes")
    ref = ds.get("gate_reference")
    if ref is not None and not (_is_number(ref) and 0.0 <= ref <= 1.0):
        _fail(origin, "dataset.gate_reference must be a number from 0 to 1")


def check_sha256(artifact: str | Path, manifest: dict[str, Any], digest: str | None = None) -> str:
    """Raise ArtifactChangedError if ``artifact`` no longer has the sha256 its manifest records; ``digest`` is
    the artifact's sha256 when the caller already hashed it. Returns the digest."""
    digest = digest or sha256_file(artifact)
    if digest != manifest["artifact"]["sha256"]:
        raise ArtifactChangedError(
            f"{artifact}: the artifact changed since export: sha256 {digest[:12]}… but its manifest "
            f"records {manifest['artifact']['sha256'][:12]}…; re-export it or restore the original file"
        )
    return digest


def build_export_manifest(
    *,
    config,
    artifact_name: str,
    artifact_sha256: str,
    artifact_bytes: int,
    source,
    facts: dict[str, Any],
    calibration,
    seconds: float,
    report,
) -> dict[str, Any]:
    """The manifest of one exported artifact.

    ``config`` is the ExportConfig, ``source`` the Source it was exported from, ``facts`` what the exporter's
    ``describe`` (and ``measure``) read back, ``calibration`` the Calibration (None for uncalibrated modes),
    ``report`` the verify.Report. The calibration recorded is the one the file itself states when the exporter
    reads one back (ONNX: calibration + quantizer recipe from ``metadata_props``), else the calibration's recipe.
    """
    import dataclasses

    from edgemnist import spec

    fmt = config.format
    recorded = facts.get("calibration")
    if recorded is None and calibration is not None:
        recorded = calibration.recipe
    return {
        "schema": SCHEMA,
        "format": fmt,
        "quantization": config.mode,
        "io": config.io,
        "description": config.fmt.mode(config.mode).description,
        "artifact": {"file": artifact_name, "sha256": artifact_sha256, "bytes": artifact_bytes},
        "source": {"file": source.path.name, "sha256": source.sha256, "accuracy": source.accuracy},
        "input": facts["input"],
        "output": facts["output"],
        "graph": facts.get("graph"),
        **({fmt: facts[fmt]} if fmt in facts else {}),  # e.g. micro's arena
        "preprocessing": spec.PREPROCESSING,
        "labels": spec.labels(facts["output"]["shape"][-1]),  # the artifact's own output width
        "layers": list(source.widths) or None,
        "dataset": {**source.data.record(), "gate_reference": source.gate_reference},
        "calibration": recorded,
        **({"weights": facts["weights"]} if "weights" in facts else {}),  # --weight-bits 4|2: bits, recipe, storage
        "tools": {**tool_versions(), **facts.get("tools", {})},
        "created": now_iso(),
        "export": {"seconds": round(seconds, 3), "config": dataclasses.asdict(config)},
        "verification": report.to_dict(),
    }
