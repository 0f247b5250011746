"""The one registry of artifact formats and quantization modes.

The CLI's choices, the exporters' dispatch, the predictor's suffix dispatch, the benchmarks and the
tests all read this table; nothing else lists formats.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from edgemnist.errors import ArtifactError, ConfigError


class Record:
    """A frozen record with value semantics: what ``@dataclass(frozen=True)`` gives (keyword or positional
    construction, ``repr``, ``==`` and ``hash`` over the fields in order, no assignment after ``__init__``),
    written out because ``dataclasses`` (and the ``inspect`` machinery behind it) would add milliseconds to
    every device start-up. A subclass lists its fields in ``__slots__`` and assigns them in ``__init__``
    with ``self._init(...)``."""

    __slots__ = ()

    def _init(self, *values: Any) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self):  # copy, deepcopy and pickle rebuild through __init__
        return type(self), self._values()


class Mode(Record):
    """One quantization mode of a format; ``io``: the allowed input/output dtypes, the first the default."""

    __slots__ = ("name", "description", "io")
    __match_args__ = __slots__

    def __init__(self, name: str, description: str, io: tuple[str, ...] = ("float",)) -> None:
        self._init(name, description, io)


class Format(Record):
    """One artifact format: its suffix, modes, exporter, backend, pip extra and runtime."""

    __slots__ = ("name", "suffix", "modes", "exporter", "backend", "extra", "runtime", "filename")
    __match_args__ = __slots__

    def __init__(
        self,
        name: str,
        suffix: str,
        modes: tuple[Mode, ...],
        exporter: str | None,
        backend: str,
        extra: str,
        runtime: str,
        filename: str | None = None,
    ) -> None:
        # exporter: "module:EXPORTER", an edgemnist.export.base.Exporter instance; None for a source format.
        # backend: "module:Class", an edgemnist.predictor.base.Backend subclass. extra: the pip extra that
        # installs the runtime; runtime: its human name. filename: a fixed artifact name (micro: model_data.cc)
        # instead of model.<mode><suffix>.
        self._init(name, suffix, modes, exporter, backend, extra, runtime, filename)

    @property
    def mode_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modes)

    @property
    def default_mode(self) -> str:
        return self.modes[0].name

    def mode(self, name: str | None) -> Mode:
        name = name or self.default_mode
        for m in self.modes:
            if m.name == name:
                return m
        raise ConfigError(
            f"quantization {name!r} is not a {self.name} mode; expected one of: {', '.join(self.mode_names)}"
        )

    def resolve_io(self, mode: str | None, io: str | None) -> str:
        m = self.mode(mode)
        io = io or m.io[0]
        if io not in m.io:
            raise ConfigError(f"io {io} does not fit {self.name} {m.name}; allowed: {', '.join(m.io)}")
        return io

    def artifact_name(self, mode: str, io: str | None = None, *, weight_bits: int = 8, packed: bool = False) -> str:
        """``model.<mode><suffix>``; a non-default I/O dtype is named too: ``model.int8-floatio.tflite``; hidden
        weights narrower than 8 bits add ``-w<bits>`` (``model.int8-w4.tflite``, ``model.int8-floatio-w2.tflite``),
        packed storage ``-packed`` after it (``model.int8-w4-packed.tflite``). A format with a fixed file name
        puts a low-bit export in a folder of its own: ``micro-w4/model_data.cc``."""
        width = "" if weight_bits == 8 else f"-w{weight_bits}" + ("-packed" if packed else "")
        if self.filename is not None:
            return self.filename if not width else f"{self.name}{width}/{self.filename}"
        if io is not None and io != self.mode(mode).io[0]:
            return f"model.{mode}-{io}io{width}{self.suffix}"
        return f"model.{mode}{width}{self.suffix}"

    def load_exporter(self) -> Any:
        """The format's ``edgemnist.export.base.Exporter`` (imported once, then cached)."""
        if self.exporter is None:
            raise ConfigError(f"{self.name} is a source format; nothing exports to it")
        return _load(self.exporter)

    def load_backend(self) -> Any:
        """The format's ``edgemnist.predictor.base.Backend`` subclass (imported once, then cached)."""
        return _load(self.backend)


@functools.cache
def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            name="tflite",
            suffix=".tflite",
            modes=(
                Mode(
                    "int8", "full-integer int8, integer-only ops, calibrated on training images", io=("int8", "float")
                ),
                Mode("dynamic", "dynamic-range: int8 weights, float activations and I/O"),
                Mode("float16", "float16 weights, float32 compute and I/O"),
                Mode("float32", "no quantization"),
            ),
            exporter="edgemnist.export.tflite:EXPORTER",
            backend="edgemnist.predictor.litert:LiteRTBackend",
            extra="litert",
            runtime="LiteRT",
        ),
        Format(
            name="onnx",
            suffix=".onnx",
            modes=(
                Mode("int8", "static QDQ int8, calibrated on training images, float I/O"),
                Mode("dynamic", "dynamic quantization: int8 weights, activations quantized at run time"),
                Mode("float32", "no quantization"),
            ),
            exporter="edgemnist.export.onnx:EXPORTER",
            backend="edgemnist.predictor.onnx:OnnxBackend",
            extra="onnx",
            runtime="ONNX Runtime",
        ),
        Format(
            name="micro",
            suffix=".cc",
            modes=(Mode("int8", "full-integer int8 C array for TensorFlow Lite Micro", io=("int8",)),),
            exporter="edgemnist.export.micro:EXPORTER",
            backend="edgemnist.predictor.micro:MicroBackend",
            extra="micro",
            runtime="TFLite Micro",
            filename="model_data.cc",
        ),
        Format(
            name="c",
            suffix=".c",
            modes=(
                Mode(
                    "int8",
                    "interpreter-free C99 kernel generated from the int8 .tflite, byte-identical to TFLite Micro",
                    io=("int8",),
                ),
            ),
            exporter="edgemnist.export.c:EXPORTER",
            backend="edgemnist.predictor.c:CBackend",
            extra="micro",
            runtime="edgemnist C kernel",
            filename="edgemnist_model.c",
        ),
        Format(
            name="web",
            suffix=".wasm",
            modes=(
                Mode(
                    "int8",
                    "the C kernel as WebAssembly (SIMD + scalar) with a page and a JS API, byte-identical "
                    "to TFLite Micro",
                    io=("int8",),
                ),
            ),
            exporter="edgemnist.export.web:EXPORTER",
            backend="edgemnist.predictor.web:WebBackend",
            extra="web",
            runtime="wasmtime",
            filename="web/edgemnist_model.wasm",  # the folder export/web/ holds the page and everything it loads
        ),
        Format(
            name="keras",
            suffix=".keras",
            modes=(Mode("float32", "the trained source model"),),
            exporter=None,
            backend="edgemnist.predictor.keras:KerasBackend",
            extra="train",
            runtime="Keras",
        ),
    )
}

#: Formats `edgemnist export` writes, in the order `--format all` writes them.
EXPORT_FORMATS = tuple(name for name, f in FORMATS.items() if f.exporter is not None)


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; expected one of: {', '.join(FORMATS)}") from None


def format_for_path(path: str | Path) -> Format:
    suffix = Path(path).suffix.lower()
    for f in FORMATS.values():
        if f.suffix == suffix:
            return f
    known = ", ".join(f.suffix for f in FORMATS.values())
    raise ArtifactError(f"{path}: unknown model file type {suffix or '(no suffix)'!r}; expected one of: {known}")
