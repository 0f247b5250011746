"""Staging and landing an export's files, and why a kill at any point is safe.

1. ``Staging.open`` gives the artifact and each companion a hidden temporary beside its target
   (``fileio.temp_sibling``), where the exporter writes and the pipeline verifies them.
2. passed (``land``): the companions land first, then the manifest (atomically), then the artifact replaces the
   target (``os.replace``) last. Killed in between, the old artifact (if any) sits beside the new manifest
   (and header) and its sha256 no longer matches, so ``Predictor.load`` refuses it (ArtifactChangedError;
   a micro header states its model's sha256 and is ignored beside another array, and the generated C++
   does not compile as such a pair); a new artifact is never visible without its manifest, and no
   half-written file is ever under the target name;
3. failed (``reject``): the stale target, its manifest and companions are deleted first (so no older artifact of
   the same name keeps looking valid), then ``<artifact>.rejected.json`` (``verification.passed`` false, with the
   reasons), ``<companion>.rejected`` and ``<artifact>.rejected`` land. The ``.rejected`` suffix is no model
   type, so the predictor refuses to load it.

After a SIGKILL only hidden ``.<name>.<pid>.<random>.tmp<suffix>`` files can remain, never a target name;
the next export into the folder deletes those a dead process left (``fileio.remove_stale_temps``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemnist.export.base import Files
from edgemnist.fileio import fsync_replace, remove_stale_temps, temp_sibling
from edgemnist.manifest import manifest_path, write_manifest

REJECTED_SUFFIX = ".rejected"


def rejected_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + REJECTED_SUFFIX)


def _unlink(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _stage_companion(tmp: Path, final: Path, finals: tuple[Path, ...], target: Path) -> Path:
    """The artifact's own header (``model_data.h`` beside ``model_data.cc``, ``edgemnist_model.h`` beside
    ``edgemnist_model.c``), and a companion whose suffix no other file of the export has, is staged as
    ``<temporary artifact stem><suffix>`` (``.model_data.cc.<pid>.<random>.tmp.h``), so a reader that looks for
    ``<stem>.h`` beside the artifact finds it during an export as after it; any other companion (the C kernel's
    ``edgemnist_preprocess.h``) gets its own hidden temporary."""
    suffixes = [f.suffix for f in finals] + [tmp.suffix]
    own = final.stem == target.stem and final.suffix != target.suffix
    if final.suffix and (own or suffixes.count(final.suffix) == 1):
        staged = tmp.with_suffix(final.suffix)
        try:
            os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return staged
        except FileExistsError:
            pass
    return temp_sibling(final)


@dataclass(frozen=True)
class Staging:
    """An export's target, its companions' final paths, and the temporaries they are written to."""

    target: Path
    finals: tuple[Path, ...]  # the companions' final paths, in ``companions()`` order
    files: Files  # the temporaries

    @classmethod
    @contextlib.contextmanager
    def open(cls, target: Path, companion_names: tuple[str, ...]) -> Iterator[Staging]:
        """Stage ``target`` and its companions; every temporary left at the end (a failure) is deleted."""
        target = Path(target)
        finals = tuple(target.with_name(n) for n in companion_names)
        names = [
            p.name
            for p in (
                target,
                manifest_path(target),
                rejected_path(target),
                manifest_path(rejected_path(target)),
                *finals,
                *map(rejected_path, finals),
            )
        ]
        if target.parent.is_dir():
            remove_stale_temps(target.parent, names)
        temps: list[Path] = []
        try:
            temps.append(temp_sibling(target))
            temps += [_stage_companion(temps[0], f, finals, target) for f in finals]
            yield cls(target, finals, Files(temps[0], dict(zip(companion_names, temps[1:], strict=True))))
        finally:
            _unlink(*temps)

    def _land(self, finals: list[Path]) -> None:
        """Companions, in order, then nothing else: a companion the exporter did not write is skipped
        (``check`` reports it missing)."""
        for name, dst in zip(self.files.companions, finals, strict=True):
            src = self.files.companion(name)
            if src.is_file() and src.stat().st_size:
                fsync_replace(src, dst)

    def land(self, manifest: dict[str, Any]) -> Path:
        """Passed: companions, then the manifest, then the artifact (last); stale rejections are removed."""
        self._land(list(self.finals))
        write_manifest(self.target, manifest)
        fsync_replace(self.files.path, self.target)
        rejected = rejected_path(self.target)
        _unlink(rejected, manifest_path(rejected), *map(rejected_path, self.finals))
        return self.target

    def reject(self, manifest: dict[str, Any]) -> Path:
        """Failed: delete the stale target and its files, then land everything under ``.rejected`` names."""
        rejected = rejected_path(self.target)
        _unlink(self.target, manifest_path(self.target), *self.finals)  # no older artifact may keep looking valid
        write_manifest(rejected, manifest)
        self._land([rejected_path(f) for f in self.finals])
        fsync_replace(self.files.path, rejected)
        return rejected
