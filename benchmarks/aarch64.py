"""edgemnist's device path on an emulated aarch64 Debian (a Raspberry Pi's userland), compared with x86-64.

    python benchmarks/aarch64.py --rootfs ~/.cache/edgemnist-arm64            # 2,000 images (build or reuse DIR)
    python benchmarks/aarch64.py --rootfs ~/.cache/edgemnist-arm64 --images 10000   # the figures in the docs
    python benchmarks/aarch64.py --cross-only --images 10000                  # the C kernel only: no rootfs, no pip
    python benchmarks/aarch64.py --render-only                                # results/aarch64.md from its JSON
    python benchmarks/update_readme.py                                        # then into docs/device-installs.md

Needs root, ``mmdebstrap``, ``qemu-user-static`` with its binfmt handler registered
(``/proc/sys/fs/binfmt_misc/qemu-aarch64``; see :func:`binfmt_problem` for how to enable it) and network access to
the Debian mirror and to pip's package index. The steps:

1. an arm64 Debian root file system with ``python3``, ``python3-venv``, ``gcc`` and ``libc6-dev``, built by
   ``mmdebstrap`` from the first Debian mirror in ``/etc/apt/sources.list(.d)`` that lists the suite, into
   ``--rootfs DIR`` (reused when DIR holds one built with the same settings; default: a temporary folder);
2. edgemnist's wheel (``pip wheel --no-deps`` of this checkout) installed inside it, in one venv per runtime:
   ``wheel[litert]``, ``wheel[onnx]``, and the bare wheel for the C kernel (which the arm64 ``gcc`` compiles
   through edgemnist's own C backend), from the package index pip uses here (``pip config list``: index-url,
   extra-index-url, find-links, trusted-host, cert; a local folder among them is bind-mounted read-only). The
   runtime and numpy are pinned to the versions installed on this host, so only the CPU architecture differs;
3. inside the chroot: ``edgemnist evaluate`` (all 10,000 test images) and ``edgemnist predict`` (a few PNG files)
   on ``model.int8.tflite``, ``model.int8.onnx`` and ``edgemnist_model.c`` from ``--artifacts`` (trained and
   exported with ``edgemnist`` on this host when missing), and the Predictor on the first ``--images`` test
   images, in this very script (its ``probe`` command); the same on this host for the x86-64 reference;
4. per runtime: accuracy, top-1 agreement with x86-64, the outputs that differ (int8 scores byte for byte; a
   float output bit for bit) and the largest probability difference, the venv's size, and the cold start
   (``import`` + ``Predictor.load`` + one prediction in a fresh process, median of ``--repeats``); written to
   ``results/aarch64.json`` and ``results/aarch64.md``, which ``benchmarks/update_readme.py`` pastes into
   docs/device-installs.md.

The chroot runs in a private mount namespace (``unshare --mount``): ``/proc``, ``/dev``, ``/sys`` (read-only),
``resolv.conf``, an aarch64 ``/proc/cpuinfo`` and the index folders are mounted there only, and vanish with the
namespace when the run ends, however it ends; the script checks afterwards that none is visible. QEMU user mode 7.2
shows the host's x86 ``/proc/cpuinfo`` to the guest, which the CPU-feature probes inside LiteRT and ONNX Runtime
(the cpuinfo library) cannot parse: they crash (SIGSEGV) creating an interpreter or a session once ``/sys`` lists
the CPUs. The chroot gets a Cortex-A72 ``cpuinfo`` instead, one block per host core, and ``QEMU_CPU`` names the
same CPU.

Besides, when ``aarch64-linux-gnu-gcc`` is installed, the C kernel is cross-compiled with a small stdin/stdout
harness and run under ``qemu-aarch64-static`` on the same images (seconds, no root file system): ``--cross-only``
runs just that. Times under emulation say nothing about a real board's speed; the bytes are what this measures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "edgemnist.aarch64/1"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "gcc", "libc6-dev")
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
GUEST_CPU = "cortex-a72"
#: What a Cortex-A72 (a Raspberry Pi 4's core) shows in /proc/cpuinfo, one block per emulated core.
CPUINFO = (
    "processor\t: 0\n"
    "BogoMIPS\t: 108.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x0\n"
    "CPU part\t: 0xd08\n"
    "CPU revision\t: 3\n\n"
)
#: Where everything lives inside the root file system.
GUEST = "/opt/edgemnist-aarch64"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOTFS_STAMP = ".edgemnist-rootfs.json"
VENV_STAMP = "edgemnist-venv.json"
DEFAULT_IMAGES = 2000
PREDICT_FILES = 5
#: pip settings that say where packages come from: passed into the chroot as PIP_* variables.
PIP_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "cert")
PIP_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Runtime:
    """One device runtime: the artifact it runs, the wheel's extra that installs it, the distribution pinned."""

    name: str
    label: str
    artifact: str
    extra: str | None
    dist: str | None  # the runtime's distribution (pinned to the host's version); None: the C compiler


RUNTIMES = (
    Runtime("litert", "LiteRT", "model.int8.tflite", "litert", "ai-edge-litert"),
    Runtime("onnx", "ONNX Runtime", "model.int8.onnx", "onnx", "onnxruntime"),
    Runtime("c", "C kernel (gcc -O2)", "edgemnist_model.c", None, None),
)
EXPORTS = {"model.int8.tflite": ("tflite", "int8"), "model.int8.onnx": ("onnx", "int8"), "edgemnist_model.c": ("c",)}


class Problem(Exception):
    """A missing tool, a bad argument, or a step that failed: ``error: ...`` and exit 2."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the host's settings


def binfmt_problem(entry: Path = BINFMT) -> str | None:
    """Why aarch64 binaries cannot run here through binfmt (None: they can)."""
    how = (
        "register it: apt-get install qemu-user-static binfmt-support (or, where no service does it: mount -t "
        "binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; cat /usr/lib/binfmt.d/qemu-aarch64.conf > "
        "/proc/sys/fs/binfmt_misc/register)"
    )
    try:
        text = entry.read_text(encoding="utf-8")
    except OSError:
        return f"{entry} does not exist: the qemu-aarch64 binfmt handler is not registered; {how}"
    lines = text.splitlines()
    if not lines or lines[0].strip() != "enabled":
        return f"{entry}: the qemu-aarch64 binfmt handler is disabled; enable it: echo 1 > {entry}"
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return (
            f"{entry}: registered without the F flag (flags: {flags or 'none'}), so the interpreter is not "
            f"found inside a chroot; {how}"
        )
    return None


def deb_sources(text: str, name: str = "sources.list") -> list[tuple[str, list[str]]]:
    """(URI, suites) of each enabled ``deb`` entry of an apt sources file, one-line (``.list``) or deb822
    (``.sources``) style, in file order."""
    out = []
    if name.endswith(".sources"):
        for para in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            key = None
            for line in para.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            suites = fields.get("suites", "").split()
            out += [(uri, suites) for uri in fields.get("uris", "").split()]
        return out
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line[4:])  # [arch=amd64 signed-by=...]
        words = line.split()
        if len(words) >= 2:
            out.append((words[0], [words[1]]))
    return out


def debian_mirror(suite: str = SUITE, apt_dir: Path = Path("/etc/apt")) -> str:
    """The first http(s) mirror apt is configured with that lists ``suite``."""
    files = [apt_dir / "sources.list"]
    folder = apt_dir / "sources.list.d"
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        if not path.is_file():
            continue
        for uri, suites in deb_sources(path.read_text(encoding="utf-8", errors="replace"), path.name):
            if suite in suites and uri.startswith(("http://", "https://")):
                return uri.rstrip("/")
    raise Problem(f"no apt source in {apt_dir} lists the suite {suite!r}; pass the Debian mirror with --mirror URL")


def pip_settings(config_list: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The PIP_* variables that make pip inside the chroot use the same package index as pip here, from the
    output of ``pip config list`` (``section.key='value'`` lines; a PIP_* variable beats any file)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    rank: dict[str, int] = {}
    order = {"global": 0, "install": 1, ":env:": 2}
    for line in config_list.splitlines():
        m = re.fullmatch(r"\s*([^.=\s]+)\.([\w-]+)\s*=\s*'?(.*?)'?\s*", line)
        if not m or m.group(2) not in PIP_KEYS:
            continue
        section, key, value = m.groups()
        r = order.get(section, 1)
        if r >= rank.get(key, -1):
            found[key], rank[key] = value, r
    out = {f"PIP_{k.upper().replace('-', '_')}": v for k, v in found.items()}
    for k in PIP_KEYS:
        var = f"PIP_{k.upper().replace('-', '_')}"
        if environ.get(var):
            out[var] = environ[var]
    return out


def local_paths(settings: dict[str, str]) -> list[str]:
    """The local folders and files pip's settings name (file:// indexes, find-links folders, the cert bundle):
    what the chroot needs mounted at the same path. A local index's ``.../simple`` pages link to files beside
    that folder, so its parent is mounted."""
    paths = []
    for value in settings.values():
        for word in value.split():
            path = word[len("file://") :] if word.startswith("file://") else word
            path = path.rstrip("/") or "/"
            if word.startswith("file://") and os.path.basename(path) == "simple":
                path = os.path.dirname(path)
            if path.startswith("/") and path != "/" and os.path.exists(path) and path not in paths:
                paths.append(path)
    return paths


def host_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        raise Problem(f"{dist} is not installed here; the x86-64 reference needs it (pip install {dist})") from None


# --------------------------------------------------------------------------- the chroot


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` that this (the host's) mount namespace sees."""
    prefix = str(root.resolve())
    out = []
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[1].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                out.append(point)
    return out


def release_mounts(root: Path) -> list[str]:
    """Unmount (lazily, deepest first) whatever is mounted at or below ``root``; the mount points it found."""
    found = mounts_under(root)
    for point in sorted(found, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    return found


def remove_tree(path: Path) -> None:
    """``rm -r`` that never follows a mount: whatever is mounted below ``path`` (an interrupted mmdebstrap's
    ``/proc`` or ``/dev``) is unmounted first, and nothing is removed while a mount remains."""
    if not path.exists():
        return
    release_mounts(path)
    left = mounts_under(path)
    if left:
        raise Problem(f"not removing {path}: {left[0]} is still mounted there")
    shutil.rmtree(path)


@dataclass(frozen=True)
class Chroot:
    """Runs commands in the root file system ``root`` under emulation, in a private mount namespace."""

    root: Path
    cpuinfo: Path
    binds: tuple[str, ...] = ()  # host paths mounted read-only at the same path inside
    env: tuple[tuple[str, str], ...] = ()

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> list[str]:
        r = shlex.quote(str(self.root))
        lines = [
            "set -e",
            f"mount -t proc proc {r}/proc",
            f"mount --bind {shlex.quote(str(self.cpuinfo))} {r}/proc/cpuinfo",
            f"mount --rbind /dev {r}/dev",
            f"mount -t sysfs -o ro sysfs {r}/sys",
            f"touch {r}/etc/resolv.conf && mount --bind /etc/resolv.conf {r}/etc/resolv.conf",
        ]
        for path in self.binds:
            inside = shlex.quote(str(self.root) + path)
            make = f"mkdir -p {inside}" if os.path.isdir(path) else f"mkdir -p $(dirname {inside}) && touch {inside}"
            lines.append(f"{make} && mount --bind {shlex.quote(path)} {inside} && mount -o remount,bind,ro {inside}")
        env = {"PATH": GUEST_PATH, "HOME": "/root", "LANG": "C.UTF-8", "QEMU_CPU": GUEST_CPU, **dict(self.env)}
        env.update(extra_env or {})
        assigns = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        lines.append(f'exec chroot {r} /usr/bin/env -i {assigns} "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines), "sh", *argv]

    def run(self, argv: list[str], *, timeout: float = 1800, check: bool = True, **env: str):
        try:
            proc = subprocess.run(
                self.command(argv, env), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise Problem(f"{' '.join(argv)} did not finish within {timeout:g} s under emulation") from None
        finally:
            left = release_mounts(self.root)  # a private namespace leaves none; if one shows, it goes now
            if left:
                raise Problem(f"mounts left under {self.root} after a chroot run (now unmounted): {left}")
        if check and proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
            raise Problem(f"inside the arm64 chroot, {' '.join(argv)} exited {proc.returncode}: {tail[-1500:]}")
        return proc


def build_rootfs(root: Path, mirror: str, suite: str) -> dict:
    """An arm64 Debian in ``root``: reused when its stamp records the same suite, mirror and packages, else built
    by mmdebstrap into a sibling temporary folder and renamed into place."""
    wanted = {"suite": suite, "mirror": mirror, "packages": list(PACKAGES), "arch": "arm64", "variant": "apt"}
    stamp = root / ROOTFS_STAMP
    if stamp.is_file():
        have = json.loads(stamp.read_text(encoding="utf-8"))
        if {k: have.get(k) for k in wanted} == wanted and (root / "usr/bin/python3").exists():
            log(f"reusing the arm64 root file system in {root} (built {have.get('built')})")
            return have
        raise Problem(f"{root} holds a root file system built with other settings ({stamp}); pass another --rootfs")
    if root.exists() and any(root.iterdir()):
        raise Problem(f"{root} is not empty and holds no {ROOTFS_STAMP}; pass an empty or new folder as --rootfs")
    if not shutil.which("mmdebstrap"):
        raise Problem("mmdebstrap is not installed (Debian: apt-get install mmdebstrap)")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + f".building-{os.getpid()}")
    remove_tree(tmp)
    cmd = ["mmdebstrap", "--arch=arm64", "--variant=apt", f"--include={','.join(PACKAGES)}", suite, str(tmp), mirror]
    log(f"building the arm64 root file system: {' '.join(cmd)}")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
        if proc.returncode != 0:
            raise Problem(f"mmdebstrap exited {proc.returncode}: {' | '.join(proc.stderr.strip().splitlines()[-5:])}")
        from edgemnist.manifest import now_iso

        record = {**wanted, "built": now_iso(), "build_seconds": round(time.monotonic() - t0, 1), "command": cmd}
        (tmp / ROOTFS_STAMP).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if root.exists():
            root.rmdir()
        tmp.rename(root)
    finally:
        remove_tree(tmp)
    log(f"built in {record['build_seconds']:.0f} s")
    return record


def du_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.lstat(p).st_blocks * 512
    return total


def install_venv(chroot: Chroot, rt: Runtime, wheel: Path, pins: list[str], pillow: str) -> dict:
    """The runtime's venv inside the chroot (``wheel[extra]`` + the pins), reused when its stamp matches; its size
    is taken before Pillow (for ``edgemnist predict`` on PNG files) is added."""
    venv = f"{GUEST}/venv-{rt.name}"
    host_venv = Path(str(chroot.root) + venv)
    spec = f"{GUEST}/wheel/{wheel.name}" + (f"[{rt.extra}]" if rt.extra else "")
    key = {
        "wheel_contents_sha256": wheel_digest(wheel),
        "requirements": [spec, *pins],
        "pillow": pillow,
        "pip": dict(chroot.env),
    }
    stamp = host_venv / VENV_STAMP
    if stamp.is_file():
        have = json.loads(stamp.read_text(encoding="utf-8"))
        if have.get("key") == key:
            log(f"reusing {venv} ({have['venv_bytes'] / 1e6:.0f} MB)")
            return have
    remove_tree(host_venv)
    log(f"installing {' '.join([spec, *pins])} into {venv} (pip under emulation; minutes)")
    t0 = time.monotonic()
    chroot.run(["python3", "-m", "venv", venv])
    pip = [f"{venv}/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    chroot.run([*pip, spec, *pins], timeout=PIP_TIMEOUT_S, PIP_CACHE_DIR=f"{GUEST}/pip-cache")
    seconds = time.monotonic() - t0
    size = du_bytes(host_venv)
    freeze = chroot.run([f"{venv}/bin/python", "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"])
    chroot.run([*pip, pillow], timeout=PIP_TIMEOUT_S, PIP_CACHE_DIR=f"{GUEST}/pip-cache")
    record = {
        "key": key,
        "venv": venv,
        "venv_bytes": size,
        "install_seconds": round(seconds, 1),
        "packages": freeze.stdout.split(),
    }
    stamp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def wheel_digest(path: Path) -> str:
    """sha256 over a wheel's member names and bytes: the same for a rebuild of the same sources (the zip itself
    carries build times)."""
    import zipfile

    h = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            h.update(name.encode() + b"\0" + hashlib.sha256(z.read(name)).digest())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- probe: runs on both sides


def probe(args: argparse.Namespace) -> int:
    """This script's in-chroot (and host) half: the Predictor on an .npy of images, or one cold start."""
    t0 = time.perf_counter()
    import platform

    import numpy as np

    from edgemnist.predictor import Predictor

    images = np.load(args.images, allow_pickle=False)
    if args.cold:
        with Predictor.load(args.artifact) as p:
            p.predict(images[:1])
        print(json.dumps({"cold_ms": (time.perf_counter() - t0) * 1000}))
        return 0
    with Predictor.load(args.artifact) as p:
        proba = np.concatenate([p.predict_proba(images[i : i + 256]) for i in range(0, len(images), 256)])
        out = p.output
        describe = p.describe()
    if out.dtype == "int8":  # the runtime's own int8 scores: probabilities are (q - zero point) * scale exactly
        raw = np.clip(np.rint(proba.astype(np.float64) / out.scale) + out.zero_point, -128, 127).astype(np.int8)
    else:
        raw = proba.astype(np.float32)
    np.save(args.out + ".proba.npy", proba.astype(np.float32), allow_pickle=False)
    np.save(args.out + ".raw.npy", raw, allow_pickle=False)
    info = {
        "machine": platform.machine(),
        "output_dtype": out.dtype,
        "runtime": describe.get("runtime"),
        "numpy": np.__version__,
        "details": {k: v for k, v in (describe.get("details") or {}).items() if isinstance(v, (str, int, float))},
    }
    Path(args.out + ".json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return 0


def compare(ref_proba, ref_raw, proba, raw, labels) -> dict:
    """aarch64 against x86-64 on the same images: agreement, outputs that differ, the largest |dp|."""
    import numpy as np

    top_ref, top = ref_proba.argmax(1), proba.argmax(1)
    if raw.dtype == np.int8:
        differ = raw != ref_raw
    else:
        differ = raw.view(np.uint32) != ref_raw.view(np.uint32)
    return {
        "images": int(len(labels)),
        "outputs": int(differ.size),
        "output_dtype": str(raw.dtype),
        "differing_outputs": int(differ.sum()),
        "images_with_a_differing_output": int(differ.any(1).sum()),
        "max_abs_dp": float(np.abs(proba.astype(np.float64) - ref_proba).max()),
        "top1_agreement": float((top == top_ref).mean()),
        "top1_changed": int((top != top_ref).sum()),
        "accuracy_on_images": float((top == labels).mean()),
        "accuracy_on_images_x86_64": float((top_ref == labels).mean()),
    }


# --------------------------------------------------------------------------- the run


def host_probe(artifact: Path, images: Path, out: Path, repeats: int) -> tuple[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(":")}
    me = [sys.executable, str(Path(__file__).resolve()), "probe", str(artifact), str(images)]
    subprocess.run([*me, "--out", str(out)], check=True, env=env, timeout=1800)
    cold = []
    for _ in range(repeats):
        proc = subprocess.run([*me, "--cold"], check=True, env=env, capture_output=True, text=True, timeout=600)
        cold.append(json.loads(proc.stdout)["cold_ms"])
    return str(out), cold


def host_cli(*argv: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(":")}
    proc = subprocess.run(
        [sys.executable, "-m", "edgemnist", *argv], capture_output=True, text=True, env=env, timeout=3600
    )
    if proc.returncode != 0:
        raise Problem(f"edgemnist {' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    return proc.stdout


def ensure_exports(folder: Path, data_dir: str | None, names=tuple(EXPORTS)) -> None:
    """The artifacts ``names``, exported with edgemnist on this host when missing (trained first if needed)."""
    missing = [name for name in names if not (folder / name).is_file()]
    if not missing:
        return
    folder.mkdir(parents=True, exist_ok=True)
    data = ["--data-dir", data_dir] if data_dir else []
    model = folder / "model.keras"
    if not model.is_file():
        log(f"training {model}")
        host_cli("train", "--out", str(folder), *data)
    for name in missing:
        fmt, *mode = EXPORTS[name]
        log(f"exporting {name}")
        quant = ["--quantize", mode[0]] if mode else []
        host_cli("export", "--format", fmt, *quant, "--model", str(model), "--out", str(folder), *data)


def write_pngs(images, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"test-{i:02d}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def predicted_labels(stdout: str) -> list[int]:
    return [int(r["label"]) for r in json.loads(stdout)]


def mnist_files(data_dir: str | None) -> Path:
    from edgemnist.data import load_test
    from edgemnist.data.cache import resolve_data_dir

    load_test(data_dir)  # downloads into the cache when needed
    return resolve_data_dir(data_dir)[0]


def cross_check(c_path: Path, images, workdir: Path) -> dict:
    """The C kernel cross-compiled with aarch64-linux-gnu-gcc (a static executable: a stdin/stdout harness), run
    under qemu-aarch64-static on ``images``, its int8 scores compared byte for byte with the host build's."""
    import numpy as np

    from edgemnist.build.compile import compiler_env, verified_pair
    from edgemnist.build.targets import WARNINGS
    from edgemnist.ckernel.layout import HEADER_NAME, SOURCE_NAME

    gcc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64-static")
    if not gcc or not qemu:
        raise Problem(
            "the cross check needs aarch64-linux-gnu-gcc and qemu-aarch64-static (Debian: apt-get install "
            "gcc-aarch64-linux-gnu qemu-user-static)"
        )
    flags = [*WARNINGS, "-O2", "-static"]
    c_text, h_text, _ = verified_pair(c_path)  # nothing is compiled before the pair is proven edgemnist's
    with tempfile.TemporaryDirectory(prefix="edgemnist-aarch64-cc-") as tmp:
        src = Path(tmp)
        (src / SOURCE_NAME).write_bytes(c_text)
        (src / HEADER_NAME).write_bytes(h_text)
        (src / "harness.c").write_text(HARNESS, encoding="ascii")
        exe = workdir / "edgemnist-aarch64"
        cmd = [gcc, *flags, "-o", str(exe), "harness.c", SOURCE_NAME]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=src, env=compiler_env(), timeout=600)
        if proc.returncode != 0:
            raise Problem(f"aarch64-linux-gnu-gcc failed: {proc.stderr.strip()[-600:]}")
    pixels = np.ascontiguousarray(images.reshape(len(images), -1), np.uint8)
    t0 = time.monotonic()
    run = subprocess.run([qemu, "-cpu", GUEST_CPU, str(exe)], input=pixels.tobytes(), capture_output=True, timeout=1800)
    seconds = time.monotonic() - t0
    if run.returncode != 0 or len(run.stdout) != 10 * len(pixels):
        raise Problem(f"the cross-compiled kernel failed under qemu-aarch64-static: {run.stderr.decode()[-400:]}")
    scores = np.frombuffer(run.stdout, np.int8).reshape(-1, 10)
    from edgemnist.build.compile import compiler_version
    from edgemnist.build.host import HostKernel

    ref = HostKernel(c_path).run(pixels)[0]
    gcc_id = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    qemu_id = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {
        "images": int(len(pixels)),
        "differing_bytes": int((scores != ref).sum()),
        "bytes": int(scores.size),
        "top1_changed": int((scores.argmax(1) != ref.argmax(1)).sum()),
        "compute_path": run.stderr.decode("ascii", "replace").strip(),
        "compiler": gcc_id,
        "flags": " ".join(flags),
        "host_compiler": compiler_version("host"),
        "emulator": f"{qemu_id} -cpu {GUEST_CPU}",
        "seconds": round(seconds, 2),
    }


HARNESS = r"""/* 784-byte images on stdin -> 10 int8 scores each on stdout; the compute path on stderr. */
#include <stdio.h>
#include "edgemnist_model.h"

int main(void) {
    uint8_t pixels[EDGEMNIST_INPUT_SIZE];
    int8_t scores[EDGEMNIST_OUTPUT_SIZE];
    fprintf(stderr, "%s\n", edgemnist_path());
    while (fread(pixels, 1, sizeof pixels, stdin) == sizeof pixels) {
        (void)edgemnist_predict(pixels, scores);
        if (fwrite(scores, 1, sizeof scores, stdout) != sizeof scores) {
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}
"""


def run_all(args: argparse.Namespace, workdir: Path) -> dict:
    import numpy as np

    from edgemnist.bench.machine import cpu_model, load_average
    from edgemnist.data import load_test
    from edgemnist.manifest import now_iso

    if not 1 <= args.images <= 10000:
        raise Problem(f"--images must be 1..10000, not {args.images}")
    if args.repeats < 1:
        raise Problem(f"--repeats must be at least 1, not {args.repeats}")
    report: dict = {
        "schema": SCHEMA,
        "created": now_iso(),
        "command": "python benchmarks/aarch64.py " + " ".join(shlex.quote(a) for a in (args.argv or [])),
        "host": {"cpu": cpu_model(), "machine": os.uname().machine, "python": sys.version.split()[0]},
        "load_average_start": load_average(),
    }
    ensure_exports(args.artifacts, args.data_dir, ("edgemnist_model.c",) if args.cross_only else tuple(EXPORTS))
    test_images, test_labels = load_test(args.data_dir)
    images, labels = test_images[: args.images], test_labels[: args.images]
    if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64-static"):
        log(f"cross check: the C kernel built by aarch64-linux-gnu-gcc under qemu-aarch64-static, {len(images)} images")
        report["cross"] = cross_check(args.artifacts / "edgemnist_model.c", images, workdir)
    elif args.cross_only:
        cross_check(args.artifacts / "edgemnist_model.c", images, workdir)  # raises, saying what to install
    if args.cross_only:
        report["load_average_end"] = load_average()
        return report

    if os.geteuid() != 0:
        raise Problem("the chroot needs root (mount, chroot); run as root, or pass --cross-only")
    problem = binfmt_problem()
    if problem:
        raise Problem(problem)
    for tool in ("unshare", "chroot", "mount"):
        if not shutil.which(tool):
            raise Problem(f"{tool} is not installed (Debian: apt-get install util-linux coreutils mount)")
    mirror = args.mirror or debian_mirror(args.suite)
    root = (args.rootfs or workdir / "rootfs").resolve()
    report["rootfs"] = build_rootfs(root, mirror, args.suite)

    config = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    settings = pip_settings(config)
    report["pip"] = sorted(settings)  # which settings were passed on; their values are this machine's own
    cpuinfo = workdir / "cpuinfo"
    cpuinfo.write_text(
        "".join(CPUINFO.replace("processor\t: 0", f"processor\t: {i}") for i in range(os.cpu_count() or 1))
    )
    chroot = Chroot(root, cpuinfo, tuple(local_paths(settings)), tuple(sorted(settings.items())))

    # the shared inputs: the wheel, the artifacts, MNIST, the images as .npy, PNG files, this script
    guest = Path(str(root) + GUEST)
    run_dir = guest / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "mnist").mkdir(parents=True)
    wheel_dir = guest / "wheel"
    shutil.rmtree(wheel_dir, ignore_errors=True)
    log("building the wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir), str(REPO)],
        check=True,
        timeout=1800,
    )
    wheel = next(wheel_dir.glob("edgemnist-*.whl"))
    for rt in RUNTIMES:
        for p in args.artifacts.glob(rt.artifact + "*"):  # the artifact, its manifest
            shutil.copy(p, run_dir / p.name)
        if rt.name == "c":
            shutil.copy(args.artifacts / "edgemnist_model.h", run_dir / "edgemnist_model.h")
    for p in mnist_files(args.data_dir).iterdir():
        if p.is_file() and (p.name.endswith((".gz", "-ubyte", ".npz")) or p.name == "SHA256SUMS"):
            shutil.copy(p, run_dir / "mnist" / p.name)
    np.save(run_dir / "images.npy", images, allow_pickle=False)
    np.save(workdir / "images.npy", images, allow_pickle=False)
    shutil.copy(Path(__file__).resolve(), run_dir / "aarch64.py")
    pngs = write_pngs(test_images[:PREDICT_FILES], run_dir / "png")
    numpy_pin = f"numpy=={host_version('numpy')}"
    pillow = f"pillow=={host_version('pillow')}"
    report["arch_inside"] = chroot.run(["uname", "-m"]).stdout.strip()
    report["guest_python"] = chroot.run(["python3", "--version"]).stdout.strip()
    report["guest_gcc"] = chroot.run(["gcc", "--version"]).stdout.splitlines()[0]
    report["wheel"] = {"name": wheel.name, "sha256": _sha256(wheel)}
    report["runtimes"] = []
    for rt in RUNTIMES:
        pins = [numpy_pin] + ([f"{rt.dist}=={host_version(rt.dist)}"] if rt.dist else [])
        venv = install_venv(chroot, rt, wheel, pins, pillow)
        py = f"{venv['venv']}/bin/python"
        cli = f"{venv['venv']}/bin/edgemnist"
        art = f"{GUEST}/run/{rt.artifact}"
        env = {"EDGEMNIST_CACHE_DIR": f"{GUEST}/cache"}
        log(f"{rt.label}: evaluate, predict and {len(images)} images inside the arm64 chroot")
        ev = chroot.run([cli, "evaluate", "--json", "--data-dir", f"{GUEST}/run/mnist", art], **env)
        pred = chroot.run([cli, "predict", "--json", art, *(f"{GUEST}/run/png/{p.name}" for p in pngs)], **env)
        chroot.run(
            [
                py,
                f"{GUEST}/run/aarch64.py",
                "probe",
                art,
                f"{GUEST}/run/images.npy",
                "--out",
                f"{GUEST}/run/out-{rt.name}",
            ],
            **env,
        )
        cold = []
        for _ in range(args.repeats):
            proc = chroot.run([py, f"{GUEST}/run/aarch64.py", "probe", art, f"{GUEST}/run/images.npy", "--cold"], **env)
            cold.append(json.loads(proc.stdout)["cold_ms"])
        guest_out = str(run_dir / f"out-{rt.name}")
        guest_info = json.loads(Path(guest_out + ".json").read_text(encoding="utf-8"))

        log(f"{rt.label}: the same on this host (x86-64 reference)")
        host_artifact = args.artifacts / rt.artifact
        ref_out, host_cold = host_probe(host_artifact, workdir / "images.npy", workdir / f"out-{rt.name}", args.repeats)
        host_info = json.loads(Path(ref_out + ".json").read_text(encoding="utf-8"))
        host_ev = json.loads(host_cli("evaluate", "--json", *_data(args), str(host_artifact)))
        host_pred = host_cli("predict", "--json", str(host_artifact), *map(str, pngs))
        cmp = compare(
            np.load(ref_out + ".proba.npy", allow_pickle=False),
            np.load(ref_out + ".raw.npy", allow_pickle=False),
            np.load(guest_out + ".proba.npy", allow_pickle=False),
            np.load(guest_out + ".raw.npy", allow_pickle=False),
            labels,
        )
        a_labels, h_labels = predicted_labels(pred.stdout), predicted_labels(host_pred)
        report["runtimes"].append(
            {
                "name": rt.name,
                "label": rt.label,
                "artifact": rt.artifact,
                "requirements": venv["key"]["requirements"],
                "runtime_version": host_version(rt.dist) if rt.dist else report["guest_gcc"],
                "machine_inside": guest_info["machine"],
                "details_aarch64": guest_info["details"],
                "details_x86_64": host_info["details"],
                "accuracy": ev_accuracy(ev.stdout),
                "accuracy_x86_64": host_ev["results"][0]["accuracy"],
                "evaluate_passed": json.loads(ev.stdout)["passed"],
                "evaluate_seconds": json.loads(ev.stdout)["results"][0]["seconds"],
                "predict_files": len(pngs),
                "predict_labels": a_labels,
                "predict_equal": a_labels == h_labels,
                "comparison": cmp,
                "venv_bytes": venv["venv_bytes"],
                "install_seconds": venv["install_seconds"],
                "packages": venv["packages"],
                "cold_ms": cold,
                "cold_ms_median": statistics.median(cold),
                "cold_ms_x86_64": host_cold,
                "cold_ms_median_x86_64": statistics.median(host_cold),
            }
        )
    report["rootfs_bytes"] = du_bytes(root)
    report["load_average_end"] = load_average()
    return report


def _data(args: argparse.Namespace) -> list[str]:
    return ["--data-dir", args.data_dir] if args.data_dir else []


def ev_accuracy(stdout: str) -> float:
    return json.loads(stdout)["results"][0]["accuracy"]


# --------------------------------------------------------------------------- the table


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def markdown(report: dict) -> str:
    """results/aarch64.md from the report alone."""
    from edgemnist.bench.render import md_table

    lines = []
    runtimes = report.get("runtimes") or []
    if runtimes:
        n = runtimes[0]["comparison"]["images"]
        header = [
            "runtime (artifact)",
            "accuracy aarch64 / x86-64",
            f"top-1 = x86-64 ({n:,} images)",
            "outputs that differ",
            "max \\|dp\\|",
            "`predict` = x86-64",
            "venv",
            "cold start aarch64 / x86-64",
        ]
        rows = []
        for r in runtimes:
            c = r["comparison"]
            kind = "int8 scores" if c["output_dtype"] == "int8" else "float32 values"
            rows.append(
                [
                    f"{r['label']} (`{r['artifact']}`)",
                    f"{r['accuracy']:.2%} / {r['accuracy_x86_64']:.2%}",
                    f"{c['top1_agreement']:.2%} ({c['top1_changed']} changed)",
                    f"{c['differing_outputs']:,} of {c['outputs']:,} {kind} ({c['images_with_a_differing_output']} "
                    f"images)",
                    f"{c['max_abs_dp']:.4f}",
                    f"{'yes' if r['predict_equal'] else 'no'} ({r['predict_files']} PNG files)",
                    _mb(r["venv_bytes"]),
                    f"{r['cold_ms_median']:,.0f} ms / {r['cold_ms_median_x86_64']:,.0f} ms",
                ]
            )
        fs = report["rootfs"]
        lines += [
            f"Measured {report['created']} on {report['host']['cpu']} ({report['host']['machine']}), the guest an "
            f"arm64 Debian {fs['suite']} (`uname -m`: {report['arch_inside']}; {report['guest_python']}, "
            f"{report['guest_gcc']}) under QEMU user-mode emulation (`QEMU_CPU={GUEST_CPU}`), each runtime in its "
            f"own venv with the versions of the x86-64 reference: "
            + "; ".join(f"`{' '.join(r['requirements'][1:])}`" for r in runtimes)
            + ".",
            "",
            *md_table(header, rows),
            "",
            f"Accuracy: `edgemnist evaluate` on the 10,000 test images. Top-1, outputs and max \\|dp\\|: the "
            f"Predictor on the first {n:,} test images, against the same artifact on x86-64; an output is one of "
            f"the 10 per image, compared as the runtime returns it (int8 scores byte for byte, float32 bit for bit). "
            f"venv: the runtime's venv after `pip install`, before Pillow is added for `predict`. Cold start: "
            f"`import` + `Predictor.load` + one prediction in a fresh process, median of {len(runtimes[0]['cold_ms'])}"
            f"; under emulation, so not a board's speed. The root file system with the three venvs and pip's cache: "
            f"{_mb(report['rootfs_bytes'])} (built in {fs['build_seconds']:.0f} s; the venvs installed in "
            + ", ".join(f"{r['install_seconds']:.0f} s" for r in runtimes)
            + f"). Reproduce: `{report['command']}`.",
        ]
    cross = report.get("cross")
    if cross:
        lines += [
            "",
            f"Cross-compiled (`{cross['compiler']}`, `{cross['flags']}`, compute path `{cross['compute_path']}`) "
            f"and run under `{cross['emulator']}` on {cross['images']:,} test images: "
            f"{cross['differing_bytes']:,} of {cross['bytes']:,} score bytes differ from the host build's "
            f"({cross['host_compiler']}), {cross['top1_changed']} labels changed.",
        ]
    return "\n".join(lines).strip() + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "probe":
        p = argparse.ArgumentParser(prog="aarch64.py probe", description="run the Predictor on images (.npy)")
        p.add_argument("artifact")
        p.add_argument("images")
        p.add_argument("--out", help="write <out>.proba.npy, <out>.raw.npy and <out>.json")
        p.add_argument("--cold", action="store_true", help="one cold start: print its time as JSON")
        ns = p.parse_args(argv[1:])
        ns.probe = True
        return ns
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _artifacts import add_common

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument(
        "--rootfs",
        type=Path,
        metavar="DIR",
        help="the arm64 root file system: built there, or reused (default: a temporary folder, removed afterwards)",
    )
    p.add_argument(
        "--images",
        type=int,
        default=DEFAULT_IMAGES,
        help=f"test images compared (default {DEFAULT_IMAGES:,}; max 10,000)",
    )
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per cold start (default 3)")
    p.add_argument("--suite", default=SUITE, help=f"Debian suite (default {SUITE})")
    p.add_argument("--mirror", help="Debian mirror URL (default: the first apt source that lists the suite)")
    p.add_argument(
        "--cross-only",
        action="store_true",
        help="only the cross-compiled C kernel under qemu-aarch64-static: no root file system, no pip",
    )
    p.add_argument("--render-only", action="store_true", help="run nothing: results/aarch64.md from aarch64.json")
    ns = p.parse_args(argv)
    ns.probe = False
    ns.argv = argv
    return ns


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        return probe(args)
    from edgemnist.errors import EdgemnistError
    from edgemnist.fileio import atomic_write_json, atomic_write_text

    stem = "aarch64_cross" if args.cross_only else "aarch64"
    if args.render_only:
        report = json.loads((args.out / f"{stem}.json").read_text(encoding="utf-8"))
        atomic_write_text(args.out / f"{stem}.md", markdown(report))
        log(f"wrote {args.out / (stem + '.md')}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="edgemnist-aarch64-"))
    try:
        report = run_all(args, tmp)
    except (Problem, EdgemnistError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd))[:300]} exited {exc.returncode}", file=sys.stderr)
        return 2
    finally:
        remove_tree(tmp)  # with the default --rootfs, the root file system too
    atomic_write_json(args.out / f"{stem}.json", report)
    md = markdown(report)
    atomic_write_text(args.out / f"{stem}.md", md)
    print(md)
    log(f"wrote {args.out / (stem + '.json')} and {stem}.md")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
