"""``edgemnist_preprocess.c`` / ``.h``: ``edgemnist.images.normalize_digit`` in C99, the C kernel's companion pair.

The two files are the package's own (``edgemnist/ckernel/csrc/``), the same for every model: ``edgemnist export
--format c`` writes them beside ``edgemnist_model.c``/``.h``. ``edgemnist_normalize_digit(width, height, gray,
invert, out)`` turns a grayscale camera or touch-screen image (at most ``EDGEMNIST_PP_MAX_WIDTH`` x
``EDGEMNIST_PP_MAX_HEIGHT``) into the model's 28x28 input, byte-identical to the Python function;
``edgemnist_predict_gray`` chains it with ``edgemnist_predict``.

On this machine (``HostPreprocess``) the pair is compiled with the ``host`` build target's compiler and flags
(:mod:`edgemnist.build.targets`, warnings as errors) into a cached shared library, as ``build.host.HostKernel`` does
for the model; before anything is compiled the files must equal the package's copies byte for byte
(``verified_texts``). ``check(...)`` is the export gate's part: C against
Python on MNIST test digits drawn as camera frames (enlarged, dark on light paper, uneven light, noise) and as they
are, and ``edgemnist_predict_gray`` against ``normalize_digit`` + ``edgemnist_predict``.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.build import compile as _build
from edgemnist.build import targets
from edgemnist.build.host import HostKernel, _library_lock
from edgemnist.ckernel.layout import HEADER_NAME as MODEL_HEADER_NAME
from edgemnist.ckernel.layout import SOURCE_NAME as MODEL_SOURCE_NAME
from edgemnist.errors import ArtifactError, BuildError
from edgemnist.fileio import atomic_path

SOURCE_NAME = "edgemnist_preprocess.c"
HEADER_NAME = "edgemnist_preprocess.h"
FILES = (SOURCE_NAME, HEADER_NAME)
#: The return codes the header documents (edgemnist_predict_gray returns the digit instead of OK).
RETURN_CODES = {
    "EDGEMNIST_PP_OK": 0,
    "EDGEMNIST_PP_BAD_ARGUMENT": -1,
    "EDGEMNIST_PP_TOO_LARGE": -2,
    "EDGEMNIST_PP_BLANK": -3,
}
INVERT = {None: -1, False: 0, True: 1}
OUTPUT_SIZE = 784
#: Images the export gate runs through the C preprocessing (each as a camera frame and as it is).
CHECK_IMAGES = 40


def texts() -> dict[str, str]:
    """{file name: text} of the pair as the package ships it."""
    folder = resources.files("edgemnist.ckernel").joinpath("csrc")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in FILES}


def max_size() -> tuple[int, int]:
    """(width, height): the largest image the shipped pair accepts (the header's defaults)."""
    h = texts()[HEADER_NAME]
    w = re.search(r"#define EDGEMNIST_PP_MAX_WIDTH (\d+)", h)
    ht = re.search(r"#define EDGEMNIST_PP_MAX_HEIGHT (\d+)", h)
    return int(w.group(1)), int(ht.group(1))


def sha256s() -> dict[str, str]:
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in texts().items()}


def verified_texts(c_path: str | Path, header: str | Path) -> dict[str, bytes]:
    """The pair's bytes, proven equal to the package's copies (nothing else is compiled); ArtifactError otherwise."""
    own = texts()
    out = {}
    for name, path in ((SOURCE_NAME, Path(c_path)), (HEADER_NAME, Path(header))):
        try:
            data = path.read_bytes() if path.stat().st_size <= 2 * len(own[name]) + 1 else b""
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read {name} ({exc.strerror or exc})") from None
        if data != own[name].encode("utf-8"):
            raise ArtifactError(f"{path}: not edgemnist's {name} (it differs from the one this edgemnist writes)")
        out[name] = data
    return out


def _compile(sources: dict[str, bytes], main: tuple[str, ...], flags: tuple[str, ...], what: str) -> Path:
    """Compile ``main`` (names in ``sources``, written into a private folder) for the ``host`` target into a cached
    shared library (the runner's tools: scrubbed environment, timeouts; keyed by sha256 of sources, flags and
    compiler)."""
    target = targets.get("host")
    cc = target.compiler.require(f"building {what}")
    cmd = [*target.arch, *target.cflags, target.opt, *flags, *target.ldflags]
    key = hashlib.sha256(
        b"\0".join([*(n.encode() + b"\0" + t for n, t in sorted(sources.items())), _build.tool_version(cc).encode()])
        + " ".join((*cmd, *main)).encode()
    )
    lib = _build.cache_dir() / "build" / "host-preprocess" / f"{key.hexdigest()}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgemnist-pp-") as tmp, atomic_path(lib) as out:
        for name, text in sources.items():
            (Path(tmp) / name).write_bytes(text)
        _build.run_tool([cc, *cmd, "-o", str(out), *main], f"{target.compiler.command} on {what}", cwd=Path(tmp))
    return lib


class HostPreprocess:
    """The pair compiled on this machine: ``normalize`` always; ``predict_gray`` when built with the model pair
    (``model_c``: ``edgemnist_model.c``, its header beside it or given)."""

    def __init__(
        self,
        c_path: str | Path | None = None,
        header: str | Path | None = None,
        *,
        model_c: str | Path | None = None,
        model_header: str | Path | None = None,
    ) -> None:
        if c_path is None:
            sources = {name: text.encode("utf-8") for name, text in texts().items()}
        else:
            sources = verified_texts(c_path, header or Path(c_path).with_name(HEADER_NAME))
        main: tuple[str, ...] = (SOURCE_NAME,)
        flags: tuple[str, ...] = ("-DEDGEMNIST_PREPROCESS_ONLY",)
        if model_c is not None:
            c_text, h_text = _build.read_pair(model_c, model_header)  # proven to be edgemnist's generated kernel
            sources.update({MODEL_SOURCE_NAME: c_text, MODEL_HEADER_NAME: h_text})
            main, flags = (SOURCE_NAME, MODEL_SOURCE_NAME), ()
        self.library = _compile(sources, main, flags, SOURCE_NAME)
        self._lock = _library_lock(self.library)  # the C keeps static buffers: one call at a time per library
        self._lib = ctypes.CDLL(str(self.library))
        self._normalize = self._lib.edgemnist_normalize_digit
        self._normalize.restype = ctypes.c_int
        self._normalize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._predict_gray = None
        if model_c is not None:
            self._predict_gray = self._lib.edgemnist_predict_gray
            self._predict_gray.restype = ctypes.c_int
            self._predict_gray.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]

    def normalize_raw(self, width: int, height: int, gray, invert: int, out) -> int:
        """The C call as it is (ctypes pointers or None), for tests of the argument checks."""
        with self._lock:
            return self._normalize(width, height, gray, invert, out)

    def normalize(self, gray: np.ndarray, invert: bool | None = None) -> tuple[int, np.ndarray]:
        """(return code, (28, 28) uint8) for a 2-D uint8 array."""
        a = np.ascontiguousarray(gray, np.uint8)
        out = np.zeros((28, 28), np.uint8)
        with self._lock:
            rc = self._normalize(a.shape[1], a.shape[0], a.ctypes.data, INVERT[invert], out.ctypes.data)
        return rc, out

    def predict_gray(self, gray: np.ndarray) -> tuple[int, np.ndarray]:
        """(digit or return code, (10,) int8 scores)."""
        if self._predict_gray is None:
            raise ArtifactError("HostPreprocess was built without the model pair (model_c=...)")
        a = np.ascontiguousarray(gray, np.uint8)
        scores = np.zeros(10, np.int8)
        with self._lock:
            digit = self._predict_gray(a.shape[1], a.shape[0], a.ctypes.data, scores.ctypes.data)
        return digit, scores


def compile_m4(
    c_path: str | Path, header: str | Path, model_c: str | Path, model_header: str | Path | None = None
) -> dict[str, Any]:
    """Compile the pair for the ``cortex-m4`` build target (its compiler, arch, warning flags and optimization)
    beside the model's header: its code and static buffer sizes, and every symbol it calls, which must be the
    model's ``edgemnist_predict`` and the compiler's soft-float runtime (``__aeabi_*``) only (BuildError otherwise)."""
    from edgemnist.build import emulate

    target = targets.get("cortex-m4")
    cc = target.compiler.require(f"building {SOURCE_NAME} for {target.name}")
    nm = target.nm_tool.require(f"checking {SOURCE_NAME} for {target.name}")
    sources = verified_texts(c_path, header)
    _, h_text = _build.read_pair(model_c, model_header)
    flags = [*target.arch, *target.cflags, target.opt]
    with tempfile.TemporaryDirectory(prefix="edgemnist-pp-m4-") as tmp:
        folder = Path(tmp)
        for name, text in {**sources, MODEL_HEADER_NAME: h_text}.items():
            (folder / name).write_bytes(text)
        obj = folder / "edgemnist_preprocess.o"
        _build.run_tool(
            [cc, *flags, "-c", SOURCE_NAME, "-o", obj.name], f"{target.compiler.command} on {SOURCE_NAME}", cwd=folder
        )
        calls = sorted(
            set(_build.run_tool([nm, "-u", obj.name], f"{target.nm_tool.command}", cwd=folder).split()) - {"U"}
        )
        sections = emulate._sections(target, obj)
    foreign = [c for c in calls if not (c.startswith("__aeabi_") or c == "edgemnist_predict")]
    if foreign:
        raise BuildError(f"{SOURCE_NAME} calls outside itself on {target.name}: {' '.join(foreign)}")
    return {
        "compiler": _build.tool_version(cc),
        "flags": " ".join(flags),
        "code_bytes": sections.get(".text", 0) + sections.get(".rodata", 0),
        "bss_bytes": sections.get(".bss", 0),
        "calls": calls,
    }


def camera_frame(
    digit: np.ndarray, width: int, height: int, factor: int, rng: np.random.Generator, *, dark_ink: bool = True
) -> np.ndarray:
    """One MNIST digit as a camera or a touch screen shows it (uint8 (height, width)): enlarged ``factor`` times
    at a random place, on paper lit unevenly (a gradient of 80 grey levels), with a little noise; dark ink on
    light paper, or (``dark_ink=False``) the opposite."""
    big = np.kron(np.asarray(digit, np.float64), np.ones((factor, factor)))
    top, left = int(rng.integers(0, height - big.shape[0] + 1)), int(rng.integers(0, width - big.shape[1] + 1))
    ink = np.zeros((height, width))
    ink[top : top + big.shape[0], left : left + big.shape[1]] = big / 255.0
    yy, xx = np.mgrid[0:height, 0:width]
    paper = 170.0 + 60.0 * (xx / width) + 20.0 * (yy / height)
    frame = paper * (1.0 - 0.8 * ink) + rng.normal(0.0, 2.0, (height, width))
    if not dark_ink:
        frame = 255.0 - frame
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def camera_frames(images: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """MNIST digits as camera frames (``camera_frame``: enlarged 2-4x into frames of up to 160x120, a quarter
    light on dark) and, after each, the 28x28 digit as it is (deterministic)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in np.asarray(images, np.uint8):
        f = int(rng.integers(2, 5))
        h, w = int(rng.integers(28 * f + 8, 121)), int(rng.integers(28 * f + 8, 161))
        out.append(camera_frame(d, w, h, f, rng, dark_ink=bool(rng.random() >= 0.25)))
        out.append(d)
    return out


def check(
    c_path: str | Path, header: str | Path, model_c: str | Path, model_header: str | Path, images: np.ndarray
) -> tuple[dict[str, Any], list[str]]:
    """The export gate's check of the pair (module doc): (manifest section, problems)."""
    from edgemnist.normalize import normalize_digit

    pp = HostPreprocess(c_path, header, model_c=model_c, model_header=model_header)
    kernel = HostKernel(model_c, model_header)
    frames = camera_frames(images[:CHECK_IMAGES])
    differing_bytes = differing_images = differing_scores = 0
    for gray in frames:
        want = normalize_digit(gray)
        rc, got = pp.normalize(gray)
        diff = int(np.count_nonzero(got != want)) if rc == 0 else want.size
        differing_bytes += diff
        differing_images += bool(diff)
        scores = kernel.run(want.reshape(1, -1))[0][0]
        digit, c_scores = pp.predict_gray(gray)
        differing_scores += int(np.count_nonzero(c_scores != scores)) + (digit != int(np.argmax(scores)))
    problems = []
    if differing_bytes:
        problems.append(
            f"edgemnist_normalize_digit differs from normalize_digit in {differing_bytes} bytes over "
            f"{differing_images} of {len(frames)} images"
        )
    if differing_scores:
        problems.append(
            f"edgemnist_predict_gray differs from normalize_digit + edgemnist_predict in {differing_scores} outputs"
        )
    section = {
        "images": len(frames),
        "differing_bytes_vs_python": differing_bytes,
        "differing_scores_vs_predict": differing_scores,
    }
    return section, problems
