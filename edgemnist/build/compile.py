"""The one runner that compiles the generated C kernel (``edgemnist_model.c`` + ``.h``) for a target of
:mod:`edgemnist.build.targets`.

``build(target, c_path)`` -> :class:`Build` (the built file, its folder and the facts of the build), in this order:

1. the pair is proven to be exactly what edgemnist's generator writes (:func:`verified_pair`: bounded reads, a
   strict parse of every constant, the templates re-filled with the parsed values equal to the files byte for
   byte); compiling a ``.c`` runs whatever it holds, so any other text is refused before a compiler is looked up;
2. the verified bytes, the target's harness and its board's files are copied under fixed names into a private
   temporary folder and compiled there, with no ``-I`` and without the compiler's include-path variables
   (``CPATH``, ``C_INCLUDE_PATH``, ...): nothing beside the artifact is ever read, and the same sources give the
   same bytes;
3. every source is compiled to an object (``compiler + arch + cflags + opt + path flags -c``), then linked
   (``compiler + arch + opt + ldflags [+ -T link.ld] [+ exports] + objects + libs``), each command with a timeout
   and bounded captured output; the kernel object must call nothing outside itself (``nm -u``) but the
   compiler-runtime functions the row lists in ``runtime_calls``, a firmware that overflows the board's memory is a
   DoesNotFitError, and a wasm module must import nothing and export what the row names;
4. the result lands in ``<cache>/build/<target>/<sha256>/`` (``<cache>`` is ``$EDGEMNIST_CACHE_DIR`` or the user
   cache dir + ``edgemnist``), where the sha256 covers the sources, the flags and the compiler's identity; the
   folder is written beside its final name and renamed, so an interrupted or concurrent build never leaves a
   half-written one. A second build of the same sources is a lookup.

Every failure is a :class:`~edgemnist.errors.BuildError`; a missing compiler or tool is a
:class:`~edgemnist.errors.MissingDependencyError` naming the Debian package.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from edgemnist.build import wasmfile
from edgemnist.build.targets import Target, get
from edgemnist.ckernel import reader
from edgemnist.ckernel.layout import HEADER_NAME, MAX_HEADER_BYTES, MAX_SOURCE_BYTES, SOURCE_NAME
from edgemnist.errors import ArtifactError, BuildError, DoesNotFitError

COMPILE_TIMEOUT_S = 300
#: At most this much of a command's output is read back (a compiler can print without bound).
MAX_OUTPUT_BYTES = 1 << 20
#: What a build leaves in its cache folder besides the output: the kernel's object (for size figures) and facts.
KERNEL_OBJECT = "edgemnist_model.o"
FACTS = "build.json"
OUTPUT_NAMES = {
    "library": "edgemnist_model.so",
    "wasm": "edgemnist_model.wasm",
    "firmware": "firmware.elf",
    "executable": "edgemnist_timing",
}

#: Environment variables through which a compiler would read or write files beyond the command line.
COMPILER_ENV = (
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "LIBRARY_PATH",
)


@dataclass(frozen=True)
class Build:
    """One build: ``file`` (the library, module or ELF) in its cache ``folder``, and how it was made."""

    target: str
    path: str  # the compute path's key
    path_name: str  # what the kernel's edgemnist_path() answers on it
    opt: str
    file: Path
    folder: Path
    compiler: str  # the compiler's identity (first line of --version)
    commands: tuple[tuple[str, ...], ...]
    key: str  # the sha256 the cache folder is named by
    cached: bool  # True when the build was found in the cache
    header_text: bytes = field(repr=False)

    @property
    def kernel_object(self) -> Path:
        return self.folder / KERNEL_OBJECT


# ---- the pair, proven before anything is compiled ------------------------------------------------------------


def header_path(c_path: str | Path) -> Path:
    """The header of ``c_path``: ``<stem>.h`` beside it (how an export stages it), else ``edgemnist_model.h``."""
    c_path = Path(c_path)
    own = c_path.with_suffix(".h")
    return own if own.is_file() else c_path.with_name(HEADER_NAME)


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (never more held in memory); ArtifactError otherwise."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ArtifactError(f"{path}: the {what} is not a regular file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ArtifactError(
            f"{path}: not an edgemnist-generated C kernel (the {what} is larger than {limit} bytes, "
            f"the largest the allow-list permits)"
        )
    return data


def verified_pair(c_path: str | Path, header: str | Path | None = None) -> tuple[bytes, bytes, dict]:
    """(C text, header text, parsed values) of the pair, proven to be exactly what edgemnist's generator writes
    (``ckernel.reader.check_pair``: bounded reads, strict parse, byte-for-byte re-render). Nothing is compiled
    before this returns; ArtifactError if either file is missing, too large, or not the generator's."""
    c_path = Path(c_path)
    h_path = Path(header) if header is not None else header_path(c_path)
    c_text = _read_bounded(c_path, MAX_SOURCE_BYTES, "C file")
    if not h_path.exists():
        raise ArtifactError(
            f"{c_path}: its header {HEADER_NAME} is missing beside it; the C artifact is the pair "
            f"edgemnist_model.c + {HEADER_NAME}"
        )
    h_text = _read_bounded(h_path, MAX_HEADER_BYTES, "header")
    ids = [
        re.search(rb"sha256 ([0-9a-f]{64})", c_text[:2000]),
        re.search(rb'EDGEMNIST_SOURCE_SHA256 "([0-9a-f]{64})"', h_text),
    ]
    if all(ids) and ids[0].group(1) != ids[1].group(1):
        raise ArtifactError(
            f"{h_path}: this header was generated from another model than {c_path.name} "
            f"(source sha256 {ids[1].group(1).decode()[:12]}... vs {ids[0].group(1).decode()[:12]}...)"
        )
    values = reader.check_pair(c_text, h_text, str(c_path), str(h_path))
    return c_text, h_text, values


def read_pair(c_path: str | Path, header: str | Path | None = None) -> tuple[bytes, bytes]:
    """(C text, header text) of the pair after :func:`verified_pair`'s proof."""
    c_text, h_text, _ = verified_pair(c_path, header)
    return c_text, h_text


# ---- running tools -------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$EDGEMNIST_CACHE_DIR``, else the user cache dir (``$XDG_CACHE_HOME`` or ``~/.cache``) + ``edgemnist``."""
    if os.environ.get("EDGEMNIST_CACHE_DIR"):
        return Path(os.environ["EDGEMNIST_CACHE_DIR"])
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edgemnist"


def compiler_env() -> dict[str, str]:
    """The environment for a compile of a verified pair: without the include-path variables."""
    return {k: v for k, v in os.environ.items() if k not in COMPILER_ENV}


def run_tool(
    cmd: list[str],
    what: str,
    *,
    cwd: Path | None = None,
    timeout: float = COMPILE_TIMEOUT_S,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``cmd`` (in ``cwd``, with the compiler environment unless ``env`` is given) and return its standard
    output (at most MAX_OUTPUT_BYTES of it); BuildError saying ``what`` failed and how."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(
                cmd, stdout=out, stderr=err, cwd=cwd, timeout=timeout, env=compiler_env() if env is None else env
            )
        except subprocess.TimeoutExpired:
            raise BuildError(f"{what} did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise BuildError(f"{what}: cannot run {cmd[0]} ({exc.strerror or exc})") from None
        out.seek(0)
        err.seek(0)
        stdout = out.read(MAX_OUTPUT_BYTES).decode("utf-8", "replace")
        stderr = err.read(MAX_OUTPUT_BYTES).decode("utf-8", "replace")
    if proc.returncode != 0:
        detail = (stderr or stdout).strip().splitlines()[:5]
        raise BuildError(f"{what} failed (exit {proc.returncode}: {' | '.join(detail)[:600]})")
    return stdout


@functools.cache
def tool_version(path: str) -> str:
    """The first line of ``<path> --version`` ("unknown" when it says nothing)."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out.splitlines()[0].strip() if out.strip() else "unknown"


def compiler_version(target: Target | str = "host") -> str:
    """The identity of ``target``'s compiler; MissingDependencyError when it is not installed."""
    target = get(target) if isinstance(target, str) else target
    return tool_version(target.compiler.require(f"building the C kernel for {target.name}"))


# ---- the build -----------------------------------------------------------------------------------------------


def _support_files(target: Target) -> dict[str, bytes]:
    """name -> bytes of the harness file and every file of the target's board folder (copied beside the pair)."""
    files: dict[str, bytes] = {}
    pkg = resources.files("edgemnist.build")
    if target.harness:
        harness = pkg.joinpath("harness")
        for item in sorted(harness.iterdir(), key=lambda p: p.name):
            # the harness file and the headers it includes (another harness's .c stays out)
            if item.name == target.harness or item.name.endswith(".h"):
                files[item.name] = item.read_bytes()
    for folder in (target.board_common, target.board):  # the board's own files win over the shared ones
        if not folder:
            continue
        board = pkg.joinpath("boards", folder)
        if not board.is_dir():
            raise BuildError(f"target {target.name}: no board folder edgemnist/build/boards/{folder}/")
        for item in sorted(board.iterdir(), key=lambda p: p.name):
            if item.is_file():
                files[item.name] = item.read_bytes()
    return files


#: What GNU ld says when a section does not fit a MEMORY region of the link script.
_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


def _link(target: Target, cmd: list[str], what: str, work: Path) -> None:
    """Run the link; a firmware whose sections overflow the board's memory (the link script states the board's
    real sizes) is a DoesNotFitError saying by how much."""
    try:
        run_tool(cmd, f"linking {what}", cwd=work)
    except BuildError as exc:
        overflow: dict[str, int] = {}
        for region, count in _OVERFLOW.findall(str(exc)):
            name = "RAM" if "RAM" in region.upper() else "flash"
            overflow[name] = max(overflow.get(name, 0), int(count))
        if not overflow:
            raise
        lacking = ", ".join(f"{name} by {count:,} B" for name, count in overflow.items())
        raise DoesNotFitError(f"{what}: the firmware does not fit the board's memory ({lacking})", overflow) from None


def _key(target: Target, compiler: str, commands: list[list[str]], sources: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([target.name, compiler, commands]).encode())
    for name in sorted(sources):
        h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
    return h.hexdigest()


def _commands(target: Target, cc: str, sources: list[str], flags: tuple[str, ...], opt: str, out: str) -> list:
    objects = [KERNEL_OBJECT if s == SOURCE_NAME else s.rsplit(".", 1)[0] + ".o" for s in sources]
    compiles = [
        [cc, *target.arch, *target.cflags, opt, *flags, "-c", src, "-o", obj]
        for src, obj in zip(sources, objects, strict=True)
    ]
    link = [
        cc,
        *target.arch,
        opt,
        *[f for f in flags if f.startswith("-f")],  # -fsanitize=... and the like link their runtime
        *target.ldflags,
        *(["-T", "link.ld"] if target.board else []),
        *[f"-Wl,--export={e}" for e in target.exports],
        "-o",
        out,
        *objects,
        *target.libs,
    ]
    return [*compiles, link]


def build(
    target: Target | str,
    c_path: str | Path,
    header: str | Path | None = None,
    *,
    path: str | None = None,
    opt: str | None = None,
    extra_flags: tuple[str, ...] = (),
) -> Build:
    """Build the generated pair for ``target`` (a row or its name) on compute path ``path`` (the row's first by
    default) at ``opt`` (the row's by default); see the module doc. ``extra_flags`` are added to every compile
    (``-f...`` ones to the link too), e.g. a sanitizer; such a build may call its runtime, so the kernel object's
    "calls nothing" check is left to the plain build."""
    target = get(target) if isinstance(target, str) else target
    compute = target.path(path)
    opt = opt or target.opt
    c_path = Path(c_path)
    c_text, h_text, _ = verified_pair(c_path, header)
    what = f"building {c_path.name} for {target.name}"
    cc = target.compiler.require(what)
    for tool in (*target.tools, *((target.nm_tool,) if target.nm_tool else ())):
        tool.require(what)
    compiler = tool_version(cc)
    support = _support_files(target)
    sources = {SOURCE_NAME: c_text, HEADER_NAME: h_text, **support}
    c_sources = [SOURCE_NAME, *sorted(n for n in support if n.endswith(".c"))]
    out_name = OUTPUT_NAMES[target.kind]
    commands = _commands(target, cc, c_sources, (*compute.flags, *extra_flags), opt, out_name)
    key = _key(target, compiler, [c[1:] for c in commands], sources)
    folder = cache_dir() / "build" / target.name / key

    def result(cached: bool) -> Build:
        return Build(
            target=target.name,
            path=compute.key,
            path_name=compute.name,
            opt=opt,
            file=folder / out_name,
            folder=folder,
            compiler=compiler,
            commands=tuple(tuple(c) for c in commands),
            key=key,
            cached=cached,
            header_text=h_text,
        )

    if (folder / FACTS).is_file() and (folder / out_name).is_file():
        return result(True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=folder.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="edgemnist-build-") as tmp:
            work = Path(tmp)
            for name, data in sources.items():
                (work / name).write_bytes(data)
            for cmd in commands[:-1]:
                run_tool(cmd, f"{target.compiler.command} on {cmd[-3]} ({what})", cwd=work)
            _link(target, commands[-1], what, work)
            _check(target, work, out_name, c_path, instrumented=bool(extra_flags))
            shutil.copyfile(work / out_name, staging / out_name)
            if target.kind == "executable":
                os.chmod(staging / out_name, 0o755)  # copyfile copies the bytes, not the mode
            shutil.copyfile(work / KERNEL_OBJECT, staging / KERNEL_OBJECT)
        facts = {
            "target": target.name,
            "path": compute.key,
            "opt": opt,
            "compiler": compiler,
            "commands": [c[1:] for c in commands],
            "sha256": hashlib.sha256((staging / out_name).read_bytes()).hexdigest(),
        }
        (staging / FACTS).write_text(json.dumps(facts, indent=1) + "\n")
        for item in staging.iterdir():
            with open(item, "rb") as f:
                os.fsync(f.fileno())
        try:
            os.replace(staging, folder)
        except OSError:  # the folder is there: another process landed the same build first, or it lost a file
            if not ((folder / FACTS).is_file() and (folder / out_name).is_file()):
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result(False)


def _check(target: Target, work: Path, out_name: str, c_path: Path, *, instrumented: bool) -> None:
    """The kernel calls nothing outside itself (unless ``extra_flags`` instrumented it, e.g. a sanitizer, whose
    runtime it then calls); a wasm module imports nothing and exports what the row names."""
    if target.nm_tool and not instrumented:
        nm = target.nm_tool.require(f"checking {c_path.name} for {target.name}")
        listed = run_tool([nm, "-u", KERNEL_OBJECT], f"{target.nm_tool.command} on {c_path.name}", cwd=work).split()
        undefined = [name for name in listed if name != "U" and name not in target.runtime_calls]
        if undefined:
            raise BuildError(f"{c_path.name} calls outside itself on {target.name}: {' '.join(undefined)}")
    if target.kind == "wasm":
        module = wasmfile.inspect_module((work / out_name).read_bytes())
        if module.imports:
            raise BuildError(
                f"the {target.name} module of {c_path.name} imports "
                f"{', '.join('.'.join(i) for i in module.imports)}; the kernel must not need libc or any other import"
            )
        missing = [e for e in ("memory", *target.exports) if e not in module.exports]
        if missing:
            raise BuildError(f"the {target.name} module of {c_path.name} does not export {', '.join(missing)}")
