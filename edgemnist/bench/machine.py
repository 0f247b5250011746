"""The machine benchmark numbers come from (CPU, cores, OS, versions, thread environment, load) and memory use."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

THREAD_ENV = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "KMP_AFFINITY",
    "ORT_NUM_THREADS",
)
RUNTIME_DISTS = ("ai-edge-litert", "onnxruntime", "tflite-micro", "tensorflow", "tensorflow-cpu", "keras")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine spent busy since boot (Linux ``/proc/stat``: user, nice, system, irq,
    softirq, steal), or None where there is no such file."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
        ticks = [int(v) for v in fields[1:9]] + [0] * 8
    except (OSError, ValueError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for (a bench run in a subprocess)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class ForeignLoad:
    """How much CPU *other* processes used while a benchmark ran, in cores: the machine's busy CPU time minus
    this process's and its children's, over the wall time.

    The load average cannot tell that: a benchmark that keeps one core busy raises the 1-minute load average to
    ~1.0 by itself, and a two-thread run to ~2.0. ``start()`` when the measurement starts, ``result()`` at the end.
    """

    def __init__(self) -> None:
        self._t0 = self._busy0 = self._own0 = self._own_self0 = None
        self._descendants: dict[int, float] = {}

    def note_descendants(self) -> None:
        """Count the CPU of this process's live descendants that it will not wait for itself (a browser that
        a driver process started, and the renderers it starts and ends), as of now. Needs psutil; without it
        they count as other processes'."""
        try:
            import psutil
        except ImportError:
            return
        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self._descendants[child.pid] = max(self._descendants.get(child.pid, 0.0), t.user + t.system)

    def watch_descendants(self, interval: float = 0.1) -> None:
        """``note_descendants`` every ``interval`` seconds until ``result()``, in a daemon thread (short-lived
        children, such as a browser's renderers, exit between two looks; what they used since the last look
        then counts as other processes', which errs towards "busy")."""
        import threading

        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.note_descendants()

        self._thread = threading.Thread(target=loop, name="edgemnist-foreign-load", daemon=True)
        self._thread.start()

    def start(self) -> ForeignLoad:
        import resource
        import time

        self._t0, self._busy0, self._own0 = time.perf_counter(), _machine_busy_seconds(), _own_cpu_seconds()
        own_self = resource.getrusage(resource.RUSAGE_SELF)
        self._own_self0 = own_self.ru_utime + own_self.ru_stime
        return self

    def result(self) -> dict[str, Any] | None:
        import time

        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.note_descendants()

        busy1 = _machine_busy_seconds()
        if self._t0 is None or self._busy0 is None or busy1 is None:
            return None
        wall = time.perf_counter() - self._t0
        machine = busy1 - self._busy0
        # Reaped children are in getrusage; descendants noted alive may or may not be reaped by now (a driver
        # that waits for its browser, and is waited for itself): take the larger account, never both.
        import resource

        own_self = resource.getrusage(resource.RUSAGE_SELF)
        noted = own_self.ru_utime + own_self.ru_stime - self._own_self0 + sum(self._descendants.values())
        own = max(_own_cpu_seconds() - self._own0, noted)
        return {
            "wall_seconds": round(wall, 1),
            "machine_cpu_seconds": round(machine, 1),
            "own_cpu_seconds": round(own, 1),
            "foreign_cores": round(max(0.0, machine - own) / wall, 3) if wall > 0 else None,
            "method": "/proc/stat busy time minus getrusage(self + waited children) and the noted descendants' "
            "CPU, over wall time",
        }


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU, cores, OS, Python, versions, thread environment, load, date."""
    from edgemnist import __version__
    from edgemnist.manifest import now_iso, tool_versions

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import psutil

        physical, total_memory = psutil.cpu_count(logical=False), int(psutil.virtual_memory().total)
    except ImportError:
        physical = total_memory = None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", encoding="utf-8") as fh:
            governor = fh.read().strip() or None
    except OSError:
        governor = None
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "usable_cores": usable,
        "memory_bytes": total_memory,
        "cpu_governor": governor,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {"edgemnist": __version__, "numpy": np.__version__, **tool_versions(RUNTIME_DISTS)},
        "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load_average": load_average(),
        "date": now_iso(),
    }


def rss() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def peak_rss() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB
