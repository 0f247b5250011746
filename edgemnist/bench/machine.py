"""The machine benchmark numbers come from (CPU, cores, OS, versions, thread environment, load) and memory use."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
              "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "KMP_AFFINITY", "ORT_NUM_THREADS")
RUNTIME_DISTS = ("ai-edge-litert", "onnxruntime", "tflite-micro", "tensorflow", "tensorflow-cpu", "keras")


def _cpu_model() -> str:
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
        "cpu": _cpu_model(), "logical_cores": os.cpu_count(), "physical_cores": physical, "usable_cores": usable,
        "memory_bytes": total_memory, "cpu_governor": governor, "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {"edgemnist": __version__, "numpy": np.__version__, **tool_versions(RUNTIME_DISTS)},
        "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load_average": load_average(), "date": now_iso(),
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
