"""Run hostile cases each in its own child process, with an address-space limit and a timeout.

A fork server (``SERVER``, started once per run with every runtime already imported) forks one child per
case; the child sets ``RLIMIT_AS``, points fds 1 and 2 at files, runs the case (``Predictor.load`` +
``predict_proba``, or one in-process ``edgemnist.cli.main`` call) and writes one JSON line back. The server
reaps it with ``os.wait4``, so every case has its own exit status, signal and peak RSS (``ru_maxrss``), and
kills a child that outlives its timeout.

A case FAILS (``problems(result)``) on: a signal, a hang, a Python traceback on stderr, an exception that is
not an ``EdgemnistError`` (MemoryError included), a peak RSS at or above the limit, a CLI exit code other
than 0/1/2, stderr that is not exactly one ``error: ...`` line whenever it is not empty (for the CLI), or any
ANSI escape / control character in what the CLI printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Per-child limits: address space and wall time.
MEMORY_LIMIT = 1 << 30
TIMEOUT_S = 60.0

SERVER = r"""
import json, os, resource, signal, sys, time, traceback
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import edgemnist.cli, edgemnist.predictor  # noqa: F401  (imported once; every child inherits them)
for name in ("onnxruntime", "ai_edge_litert.interpreter", "tflite_micro"):
    try:
        __import__(name)
    except ImportError:
        pass
images = np.load(sys.argv[1], allow_pickle=False)
MEMORY, TIMEOUT = int(sys.argv[2]), float(sys.argv[3])
proto = os.fdopen(os.dup(1), "w", buffering=1)
devnull = os.open(os.devnull, os.O_RDWR)


def run(case):
    from edgemnist.errors import EdgemnistError
    if case["kind"] == "load":
        from edgemnist.predictor import Predictor
        kwargs = case.get("kwargs", {})
        try:
            p = Predictor.load(case["path"], **kwargs)
            proba = p.predict_proba(images)
            p.predict(images[:3])
            return {"outcome": "loaded", "finite": bool(np.isfinite(proba).all()), "shape": list(proba.shape)}
        except EdgemnistError as exc:
            return {"outcome": "error", "type": type(exc).__name__, "message": str(exc)[:400]}
    from edgemnist.cli import main
    try:
        rc = main(case["argv"])
    except SystemExit as exc:
        rc = exc.code
    return {"outcome": "cli", "rc": rc}


def child(case, out_path, err_path):
    limit = int(case.get("memory", MEMORY))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.dup2(devnull, 0)
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1); os.dup2(err, 2)
    for key, value in case.get("env", {}).items():
        os.environ[key] = value
    if "encoding" in case:
        sys.stdout = open(1, "w", encoding=case["encoding"], errors="strict", closefd=False)
    try:
        result = run(case)
    except BaseException as exc:  # the failure the harness looks for
        traceback.print_exc()
        result = {"outcome": "raised", "type": type(exc).__name__}
    sys.stdout.flush(); sys.stderr.flush()
    proto.write(json.dumps(result) + "\n")
    proto.flush()
    os._exit(0)


for line in sys.stdin:
    case = json.loads(line)
    out_path, err_path = case["workdir"] + "/stdout", case["workdir"] + "/stderr"
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        proto = os.fdopen(write_fd, "w")
        child(case, out_path, err_path)
    os.close(write_fd)
    deadline = start + float(case.get("timeout", TIMEOUT))
    status = usage = None
    hung = False
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            hung = True
            break
        time.sleep(0.005)
    with os.fdopen(read_fd) as fh:
        reply = fh.read().strip()
    result = json.loads(reply) if reply and not hung else {"outcome": "none"}
    result.update({
        "id": case["id"], "seconds": round(time.monotonic() - start, 3), "hung": hung,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) and not hung else None,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "maxrss": usage.ru_maxrss * 1024,
    })
    for name in ("stdout", "stderr"):
        with open(case["workdir"] + "/" + name, "rb") as fh:
            result[name] = fh.read(20000).decode("utf-8", "backslashreplace")
    proto.write(json.dumps(result) + "\n")
"""


class ForkServer:
    """One server process; ``run(case)`` forks a child for the case and returns its result (thread-safe)."""

    def __init__(
        self, images_npy: Path, *, memory: int = MEMORY_LIMIT, timeout: float = TIMEOUT_S, env: dict | None = None
    ) -> None:
        # EDGEMNIST_UNDER_TEST: another checkout to run the cases against (e.g. main, to see a regression fail).
        lib = os.environ.get("EDGEMNIST_UNDER_TEST") or str(REPO)
        environ = {**os.environ, "PYTHONPATH": lib, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(images_npy), str(memory), str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environ,
            cwd=lib,
        )  # cwd leads sys.path under -c
        self._lock = threading.Lock()
        self.memory = memory

    def run(self, case: dict) -> dict:
        Path(case["workdir"]).mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._proc.stdin.write(json.dumps(case) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (exit {self._proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=60)


_CONTROL = [chr(c) for c in range(32) if chr(c) not in "\n\t"] + ["\x7f", "\x9b"]


def problems(result: dict, memory: int = MEMORY_LIMIT) -> list[str]:
    """Every way a result breaks the promise (empty: the case ended cleanly)."""
    out = []
    if result["hung"]:
        out.append("hang (killed after the timeout)")
    if result["signal"] is not None:
        out.append(f"killed by signal {result['signal']}")
    if "Traceback (most recent call last)" in result["stderr"]:
        out.append("a Python traceback")
    if result["outcome"] == "raised":
        out.append(f"raised {result.get('type')} (not an EdgemnistError)")
    if result["outcome"] == "none" and not result["hung"] and result["signal"] is None:
        out.append(f"no answer (exit {result['exit']})")
    if result["maxrss"] >= memory:
        out.append(f"peak RSS {result['maxrss'] >> 20} MiB")
    if result["outcome"] == "cli":
        if result["rc"] not in (0, 1, 2):
            out.append(f"exit code {result['rc']!r}")
        err = result["stderr"].strip("\n")
        lines = [line for line in err.split("\n") if line]
        if err and not all(line.startswith("error: ") for line in lines):
            out.append(f"stderr is not only 'error:' lines: {err[:300]!r}")
        if len(lines) > 1 and result["rc"] == 2:
            out.append(f"{len(lines)} stderr lines for one error: {err[:300]!r}")
        printed = result["stdout"] + result["stderr"]
        bad = sorted({repr(c) for c in _CONTROL if c in printed})
        if bad:
            out.append(f"printed control characters {', '.join(bad)}")
    return out
