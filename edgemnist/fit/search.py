"""Train, export, build and measure each candidate; pick the most accurate one that fits and passes.

Per candidate (``measure``, run in its own process): train once (``edgemnist.model.train_and_save``, seeded by the
search's seed; the model is cached under ``<cache>/fit/<key>/``, the key being the training config, the dataset's
sha256 and the tool versions, and lands by an atomic rename); export the int8 ``.tflite`` and ``--format c``
(the normal export pipeline, its gate set wide so that a model below the gate is still measured; whether it
passes is the gate's floor applied to the C kernel's accuracy on the full test set); build the firmware for the
target (``edgemnist.build``), run ``images`` test images under the emulator, check its output bytes equal the
host build's, and read flash (text), RAM (data + bss + painted stack) and instructions per inference. The
measurement is cached too (keyed by the model, the bits, the target, the image count and the tool versions).

``select``: among the candidates that fit (text <= flash budget, RAM <= RAM budget) and pass, the most accurate;
ties go to fewer instructions, then to the grid order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgemnist.errors import ConfigError, GateError
from edgemnist.fit.grid import Candidate

#: The gate used while measuring: wide, so that a model below the real gate is still built and measured.
MEASURE_TOLERANCE_PP = 100.0
SCHEMA = "edgemnist.fit/1"


class NothingFitsError(GateError):
    """No candidate both fits the budget and passes the gate. Exit 1."""


@dataclass(frozen=True)
class Budget:
    target: str
    flash_bytes: int
    ram_bytes: int


@dataclass(frozen=True)
class Settings:
    """How every candidate is trained and measured (the same for all, so results compare)."""

    target: str = "cortex-m4"
    path: str | None = None
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    images: int = 1000
    tolerance: float = 0.5
    data_dir: str | None = None


@dataclass(frozen=True)
class Result:
    """What one candidate measured. ``status``: ``ok``, ``not supported`` (the exporter refused the config),
    ``not run`` (the time budget ran out) or ``failed`` (``note`` says why)."""

    candidate: Candidate
    status: str
    note: str = ""
    accuracy: float | None = None
    keras_accuracy: float | None = None
    floor: float | None = None
    passes: bool = False
    text_bytes: int | None = None
    ram_bytes: int | None = None
    data_bytes: int | None = None
    bss_bytes: int | None = None
    stack_bytes: int | None = None
    instructions: float | None = None
    differing_bytes: int | None = None
    images: int = 0
    work: str | None = field(default=None, compare=False)

    def fits(self, budget: Budget) -> bool:
        return (
            self.status == "ok"
            and self.text_bytes is not None
            and self.text_bytes <= budget.flash_bytes
            and self.ram_bytes <= budget.ram_bytes
        )

    def to_dict(self, budget: Budget | None = None) -> dict:
        d = dataclasses.asdict(self)
        d["candidate"] = self.candidate.to_dict()
        d["label"] = self.candidate.label
        d.pop("work")
        if budget is not None:
            d["fits"] = self.fits(budget)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        d = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        c = d.pop("candidate")
        return cls(candidate=Candidate.of(tuple(c["hidden"]), c["weight_bits"]), **d)


def check_target(name: str):
    """The build row ``name`` if it is a firmware that counts instructions; ConfigError naming those that do."""
    from edgemnist.build import targets

    target = targets.get(name)
    usable = [t.name for t in targets.TARGETS if t.kind == "firmware" and t.counting]
    if target.name not in usable:
        raise ConfigError(
            f"target {name!r} is not a firmware run under an emulator; expected one of {', '.join(usable)}"
        )
    return target


def _versions() -> dict:
    from edgemnist.manifest import tool_versions

    return tool_versions()


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cache_root() -> Path:
    from edgemnist.build.compile import cache_dir

    return cache_dir() / "fit"


def _land_dir(tmp: Path, final: Path) -> None:
    """Rename the filled folder ``tmp`` to ``final`` (atomic); if another process landed it first, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.is_dir():
            raise


def trained_model(candidate: Candidate, settings: Settings, data) -> Path:
    """The candidate's trained model.keras (or model.rejected.keras), trained once and cached (see the module doc)."""
    from edgemnist.model import TrainConfig, train_and_save

    config = TrainConfig(
        epochs=settings.epochs, batch_size=settings.batch_size, seed=settings.seed, hidden=candidate.hidden
    )
    key = _key("train", dataclasses.asdict(config), data.record(), _versions())
    final = _cache_root() / key
    for name in ("model.keras", "model.rejected.keras"):
        if (final / name).is_file():
            return final / name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trained = train_and_save(config, data, tmp, tolerance_pp=settings.tolerance, verbose=0)
    _land_dir(tmp, final)
    return final / trained.path.name


def export_configs(bits: int, tolerance: float):
    """The int8 .tflite and the C kernel of ``bits``-bit hidden weights; ConfigError when an exporter refuses."""
    from edgemnist.export import ExportConfig

    c = ExportConfig(format="c", weight_bits=bits, tolerance=tolerance)
    tfl = ExportConfig(format="tflite", mode="int8", io="int8", weight_bits=bits, tolerance=tolerance)
    return [tfl, c]


def measure(candidate: Candidate, settings: Settings) -> Result:
    """Train (cached), export, build, emulate and measure one candidate (see the module doc)."""
    import numpy as np

    from edgemnist import __version__, spec
    from edgemnist.build import emulate
    from edgemnist.build.host import HostKernel
    from edgemnist.data import load_dataset
    from edgemnist.export import export_prepared, prepare

    try:
        export_configs(candidate.bits, MEASURE_TOLERANCE_PP)
    except ConfigError as exc:
        return Result(candidate, "not supported", note=str(exc))
    target = check_target(settings.target)
    data = load_dataset(settings.data_dir)
    model = trained_model(candidate, settings, data)
    key = _key(
        "measure",
        str(model.parent.name),
        candidate.bits,
        settings.target,
        settings.path,
        settings.images,
        __version__,
        _versions(),
    )
    final = model.parent / f"measure-{key}"
    if (final / "result.json").is_file():
        return dataclasses.replace(
            Result.from_dict(json.loads((final / "result.json").read_text(encoding="utf-8"))), work=str(final)
        )
    tmp = model.parent / f".measure-{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    source = prepare(model, data)
    results = [export_prepared(source, c, tmp) for c in export_configs(candidate.bits, MEASURE_TOLERANCE_PP)]
    c_result = results[-1]
    floor = spec.accuracy_floor(settings.tolerance, source.gate_reference)
    accuracy = float(c_result.report.accuracy)
    x = np.ascontiguousarray(data.test_images[: settings.images], np.uint8).reshape(-1, spec.INPUT_SIZE)
    run = emulate.run(target, c_result.path, x, settings.path)
    ref_scores, ref_digits = HostKernel(c_result.path).run(x)
    differing = int((run.scores[:, : ref_scores.shape[1]] != ref_scores).sum()) + int((run.digits != ref_digits).sum())
    s = run.sizes
    result = Result(
        candidate,
        "ok" if differing == 0 else "failed",
        note="" if differing == 0 else f"{differing} output bytes differ from the host build",
        accuracy=accuracy,
        keras_accuracy=float(source.accuracy),
        floor=float(floor),
        passes=bool(differing == 0 and spec.passes(accuracy, floor)),
        text_bytes=int(s["text_bytes"]),
        ram_bytes=int(s["ram_bytes"]),
        data_bytes=int(s["data_bytes"]),
        bss_bytes=int(s["bss_bytes"]),
        stack_bytes=int(s["stack_peak_bytes"]),
        instructions=float(run.instructions_per_inference),
        differing_bytes=differing,
        images=int(run.images),
    )
    from edgemnist.fileio import atomic_write_json

    atomic_write_json(tmp / "result.json", result.to_dict())
    _land_dir(tmp, final)
    return dataclasses.replace(result, work=str(final))


def _measure_safe(candidate: Candidate, settings: Settings) -> Result:
    """``measure``, with a candidate's own failure (a build error, a gate of the pipeline) recorded, not raised."""
    from edgemnist.errors import EdgemnistError, MissingDependencyError

    try:
        return measure(candidate, settings)
    except MissingDependencyError:
        raise
    except (EdgemnistError, OSError) as exc:
        text = " ".join(str(exc).split())[:300]
        return Result(candidate, "failed", note=text)


@dataclass(frozen=True)
class Search:
    budget: Budget
    settings: Settings
    grid: tuple[Candidate, ...]
    results: tuple[Result, ...]
    seconds: float
    stopped_early: bool = False

    @property
    def winner(self) -> Result | None:
        return select(self.results, self.budget)


def select(results, budget: Budget) -> Result | None:
    """The most accurate result that fits and passes; ties: fewer instructions, then grid order."""
    ok = [r for r in results if r.passes and r.fits(budget)]
    if not ok:
        return None
    return min(ok, key=lambda r: (-r.accuracy, r.instructions, r.candidate))


def nothing_fits(results, budget: Budget) -> str:
    """Why nothing was chosen, naming the smallest flash and RAM a measured candidate needs."""
    measured = [r for r in results if r.status == "ok"]
    passing = [r for r in measured if r.passes]
    pool = passing or measured
    head = f"no candidate fits {budget.flash_bytes:,} B flash and {budget.ram_bytes:,} B RAM on {budget.target}"
    if not pool:
        return f"{head} and passes the gate: no candidate was measured"
    smallest = min(pool, key=lambda r: (r.text_bytes, r.ram_bytes, r.candidate))
    which = "passing candidate" if passing else "candidate (none passes the gate)"
    return (
        f"{head} and passes the gate; the smallest {which} is {smallest.candidate.label}: "
        f"--flash {smallest.text_bytes} --ram {max(r.ram_bytes for r in pool if r is smallest)} would fit it "
        f"(smallest RAM of any: {min(r.ram_bytes for r in pool):,} B)"
    )


def run_search(
    grid: list[Candidate],
    budget: Budget,
    settings: Settings,
    *,
    jobs: int | None = None,
    max_minutes: float | None = None,
    progress=None,
) -> Search:
    """Measure every candidate of ``grid`` in up to ``jobs`` processes; no new candidate starts after
    ``max_minutes``. Results come back in grid order whatever order they finish in. ``progress(result)`` is called
    as each one lands."""
    import concurrent.futures as cf
    import multiprocessing as mp

    check_target(settings.target)
    start = time.monotonic()
    jobs = max(1, jobs or os.cpu_count() or 1)
    pending = list(grid)
    done: dict[Candidate, Result] = {}
    stopped = False

    def over() -> bool:
        return max_minutes is not None and time.monotonic() - start > 60 * max_minutes

    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        running: dict = {}
        while pending or running:
            while pending and len(running) < jobs:
                if over():
                    stopped = True
                    break
                c = pending.pop(0)
                running[pool.submit(_measure_safe, c, settings)] = c
            if stopped and not running:
                break
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                c = running.pop(f)
                done[c] = f.result()
                if progress:
                    progress(done[c])
            if stopped:
                continue
    for c in pending:
        done[c] = Result(c, "not run", note=f"the {max_minutes:g}-minute budget was spent")
    results = tuple(done[c] for c in sorted(done))
    return Search(budget, settings, tuple(sorted(grid)), results, time.monotonic() - start, stopped)


def export_winner(search: Search, out: str | Path) -> Path:
    """Export the winner's .tflite and C kernel into ``out`` under the real gate, with ``fit.json`` naming the search,
    the grid and every result. Staged in a sibling folder and moved in, so ``out`` never holds half of it."""
    import tempfile

    from edgemnist.data import load_dataset
    from edgemnist.export import export_prepared, prepare
    from edgemnist.fileio import atomic_write_json

    winner = search.winner
    if winner is None:
        raise NothingFitsError(nothing_fits(search.results, search.budget))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = next(Path(winner.work).parent.glob("model*.keras"))
    source = prepare(model, load_dataset(search.settings.data_dir))
    with tempfile.TemporaryDirectory(prefix=".fit-", dir=out.parent) as tmp:
        tmp = Path(tmp)
        for config in export_configs(winner.candidate.bits, search.settings.tolerance):
            export_prepared(source, config, tmp)
        for f in (model, model.with_name(model.name + ".json")):
            if f.is_file():
                shutil.copy2(f, tmp / f.name)
        atomic_write_json(tmp / "fit.json", search_record(search))
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    return out / "fit.json"


def search_record(search: Search) -> dict:
    """The search as JSON: budget, settings, grid, every result, the choice."""
    from edgemnist import __version__
    from edgemnist.manifest import now_iso

    w = search.winner
    return {
        "schema": SCHEMA,
        "created": now_iso(),
        "edgemnist": __version__,
        "budget": dataclasses.asdict(search.budget),
        "settings": dataclasses.asdict(search.settings),
        "grid": [c.to_dict() for c in search.grid],
        "seconds": round(search.seconds, 1),
        "stopped_early": search.stopped_early,
        "results": [r.to_dict(search.budget) for r in search.results],
        "chosen": w.to_dict(search.budget) if w else None,
    }
