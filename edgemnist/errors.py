"""Every error edgemnist raises on purpose.

Bad user input (files, flags, arrays) is a ``ValueError`` subclass whose message says what was
expected. The CLI prints ``error: <message>`` on one line and exits with ``exit_code``:
2 for bad usage or input, 1 when an accuracy or verification gate fails.
"""

from __future__ import annotations


class EdgemnistError(ValueError):
    """Base class: a problem the user can fix. The CLI exits 2."""

    exit_code = 2


class ConfigError(EdgemnistError):
    """A flag or config value out of range, or options that do not fit together."""


class DataError(EdgemnistError):
    """An MNIST file is missing, truncated, corrupted or not what it claims to be."""


class DownloadError(DataError):
    """No mirror delivered a file with the expected hash."""


class ArtifactError(EdgemnistError):
    """A model artifact is missing, unreadable, of an unknown kind or malformed."""


class BuildError(ArtifactError):
    """The generated C kernel did not build for a target, or what was built is not what the target needs."""


class DoesNotFitError(BuildError):
    """The firmware is larger than the board's memory: ``overflow`` maps each memory ("flash", "RAM") to the bytes
    it lacks."""

    def __init__(self, message: str, overflow: dict[str, int]) -> None:
        super().__init__(message)
        self.overflow = dict(overflow)


class ManifestError(ArtifactError):
    """A manifest is unreadable or contradicts the artifact it sits beside."""


class InputError(EdgemnistError):
    """Arrays or images handed to the predictor are not what it accepts."""


class MissingDependencyError(EdgemnistError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class GateError(EdgemnistError):
    """An accuracy or verification gate failed. The CLI exits 1."""

    exit_code = 1


class ArtifactChangedError(GateError):
    """The artifact's sha256 no longer matches its manifest."""


class SignatureError(GateError):
    """A public key was given and the artifact's signature is missing, does not verify, or covers other files."""


class UnverifiedError(GateError):
    """The manifest records that the artifact failed its verification at export."""


#: How much of a runtime's own message an edgemnist message quotes.
QUOTE_LIMIT = 300


def first_line(exc: BaseException, *, default: str = "", limit: int = QUOTE_LIMIT) -> str:
    """The first non-empty line of ``exc``'s message, at most ``limit`` characters (``default`` when empty):
    how every edgemnist message quotes what a native runtime said."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else default


def require_file(path, what: str = "model file"):
    """``path`` as a Path; ArtifactError ``<path>: no such <what>`` when nothing is there."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such {what}")
    return path
