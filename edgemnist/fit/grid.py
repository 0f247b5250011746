"""The candidates ``edgemnist fit`` tries: hidden Dense+ReLU widths x hidden-weight bits.

The default grid: one hidden layer of 16, 32, 64, 72, 96, 128 or 256 units, and the two-layer stacks 64,32,
128,64 and 256,128; each with 8-, 4- and 2-bit hidden weights (a width the C exporter does not take is recorded as
not supported). A custom grid is a list of stacks separated by spaces or ``;`` (``"32 64,32 128"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemnist.errors import ConfigError
from edgemnist.export.config import WEIGHT_BITS

DEFAULT_HIDDEN: tuple[tuple[int, ...], ...] = (
    (16,),
    (32,),
    (64,),
    (72,),
    (96,),
    (128,),
    (256,),
    (64, 32),
    (128, 64),
    (256, 128),
)
DEFAULT_BITS: tuple[int, ...] = WEIGHT_BITS


@dataclass(frozen=True, order=True)
class Candidate:
    """One point of the grid. Orders by depth, then widths, then bits descending: the order of every table."""

    depth: int
    hidden: tuple[int, ...]
    neg_bits: int

    @classmethod
    def of(cls, hidden: tuple[int, ...], bits: int) -> Candidate:
        return cls(len(hidden), tuple(hidden), -int(bits))

    @property
    def bits(self) -> int:
        return -self.neg_bits

    @property
    def label(self) -> str:
        return f"{','.join(map(str, self.hidden))} w{self.bits}"

    def to_dict(self) -> dict:
        return {"hidden": list(self.hidden), "weight_bits": self.bits}


def parse_grid(text: str | None) -> tuple[tuple[int, ...], ...]:
    """``"32 64,32; 128"`` -> ``((32,), (64, 32), (128,))``; None -> the default grid. ConfigError for a width
    of 0, a non-number or an empty list."""
    from edgemnist.model import parse_hidden

    if text is None:
        return DEFAULT_HIDDEN
    stacks = [s for s in text.replace(";", " ").split() if s]
    if not stacks:
        raise ConfigError(f"expected a grid of hidden stacks such as '32 64,32 128', got {text!r}")
    parsed = []
    for s in stacks:
        try:
            parsed.append(parse_hidden(s))
        except ConfigError as exc:
            raise ConfigError(f"grid stack {s!r}: {exc}") from None
    return tuple(dict.fromkeys(parsed))


def parse_bits(text: str | None) -> tuple[int, ...]:
    """``"8,4"`` -> ``(8, 4)``; None -> every width the exporters know. ConfigError naming the accepted ones."""
    if text is None:
        return DEFAULT_BITS
    expected = f"expected weight bits as a comma list of {', '.join(map(str, WEIGHT_BITS))}"
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() and int(p) in WEIGHT_BITS for p in parts):
        raise ConfigError(f"{expected}, got {text!r}")
    return tuple(dict.fromkeys(int(p) for p in parts))


def candidates(hidden=DEFAULT_HIDDEN, bits=DEFAULT_BITS) -> list[Candidate]:
    """Every stack x bits, sorted (the order results are reported in, whatever order they finish)."""
    return sorted(Candidate.of(h, b) for h in hidden for b in bits)
