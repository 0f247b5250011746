"""Read a ``model_data.cc`` / ``model_data.h`` pair back, strictly, streaming and bounded.

Every symbol and line spelling comes from the description in :mod:`edgemnist.tflm.layout` (the one the writer
writes with). ``read_array`` reads the .cc one line at a time and refuses anything the exporter does not write --
a file larger than the largest model of this network could need (``allowlist.MICRO_MAX_SOURCE_BYTES``, ~6.6 MB,
checked before reading), a line longer than ``allowlist.MICRO_MAX_LINE``, non-ASCII text, a byte not spelled
``0x`` + two lowercase hex digits, a line of bytes longer than the layout's ``bytes_per_line`` (or a short one
before the last), an array longer than ``allowlist.MICRO_MAX_MODEL_BYTES``, a ``static_assert`` model id that is
not this array's, and a length constant that is not a plain decimal equal to the array's length (``-1``, empty,
``0x67518``, ``423192u``, a missing constant: all refused). Memory stays at the model's size plus one line.
``read_header`` accepts a header only when every constant of the layout appears exactly once, in the one
spelling ``Constant.render`` writes, with this array's sha256 and model id, and the arena its stated minimum
rounded up to the alignment; anything else makes it untrusted (the caller measures the arena).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgemnist import allowlist, spec
from edgemnist.errors import ArtifactError
from edgemnist.fileio import sha256_bytes
from edgemnist.flatbuffer import check_tflite
from edgemnist.tflm.arena import MAX_ARENA_BYTES, round_up
from edgemnist.tflm.layout import MAX_HEADER_BYTES, MODEL_DATA, ModelData, model_id
from edgemnist.tflm.runner import Quant


@dataclass(frozen=True)
class MicroModel:
    """What a ``model_data.cc`` / ``model_data.h`` pair holds."""

    cc_path: Path
    header_path: Path
    model_bytes: bytes = field(repr=False)
    arena_bytes: int  # 0 when no trusted header states it
    arena_min_bytes: int
    arena_alignment: int
    input: Quant
    output: Quant
    num_classes: int = 10  # the model's output width, read from the array itself

    @property
    def flash_bytes(self) -> int:
        return len(self.model_bytes)

    @property
    def tflite_sha256(self) -> str:
        return sha256_bytes(self.model_bytes)


def parse_c_array(text: str, symbol: str | None = None, *, layout: ModelData = MODEL_DATA) -> bytes:
    """The bytes of the array in ``model_data.cc`` text already in memory, parsed as strictly as
    ``read_array`` (``symbol``, when given, must be the layout's array symbol: nothing else is ours)."""
    if symbol is not None and symbol != layout.array_symbol:
        raise ArtifactError(f"only '{layout.array_symbol}' arrays are read, not {symbol!r}")
    return parse_text(text, layout=layout)


def _lines(cc_path: Path, fh):
    """(line number, text) of an ASCII file, each line at most MICRO_MAX_LINE characters."""
    number = 0
    while True:
        raw = fh.readline(allowlist.MICRO_MAX_LINE + 2)
        if not raw:
            return
        number += 1
        if len(raw.rstrip(b"\n")) > allowlist.MICRO_MAX_LINE:
            raise ArtifactError(
                f"{cc_path}: line {number} is longer than {allowlist.MICRO_MAX_LINE} characters; "
                f"not a model_data.cc written by edgemnist"
            )
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ArtifactError(
                f"{cc_path}: line {number} is not ASCII text; not a model_data.cc written by edgemnist"
            ) from None
        yield number, text.rstrip("\n").rstrip("\r")


def read_array(cc_path: str | Path, *, layout: ModelData = MODEL_DATA) -> bytes:
    """The model bytes of a ``model_data.cc`` (see the module doc); ArtifactError for anything else."""
    cc_path = Path(cc_path)
    if not cc_path.is_file():  # a FIFO would block the open, /dev/zero never ends
        raise ArtifactError(f"{cc_path}: not a regular file; expected a model_data.cc")
    try:
        fh = open(cc_path, "rb")
    except OSError as exc:
        raise ArtifactError(f"{cc_path}: cannot read the C array ({exc.strerror or exc})") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > allowlist.MICRO_MAX_SOURCE_BYTES:
            raise ArtifactError(
                f"{cc_path}: {size} bytes, larger than the C array of any model of this network "
                f"({allowlist.MICRO_MAX_SOURCE_BYTES} bytes at most)"
            )
        return _parse(cc_path, _lines(cc_path, fh), layout)


def parse_text(text: str, origin: str = "the C array", *, layout: ModelData = MODEL_DATA) -> bytes:
    """``read_array`` on text already in memory (tests, and a caller that has the text)."""
    if len(text) > allowlist.MICRO_MAX_SOURCE_BYTES:
        raise ArtifactError(
            f"{origin}: {len(text)} characters, larger than the C array of any model of this "
            f"network ({allowlist.MICRO_MAX_SOURCE_BYTES} at most)"
        )

    def lines():
        for number, line in enumerate(text.split("\n"), 1):
            if len(line) > allowlist.MICRO_MAX_LINE:
                raise ArtifactError(f"{origin}: line {number} is longer than {allowlist.MICRO_MAX_LINE} characters")
            if not line.isascii():
                raise ArtifactError(f"{origin}: line {number} is not ASCII text")
            yield number, line.rstrip("\r")

    return _parse(Path(origin), lines(), layout)


def _parse(cc_path: Path, lines, layout: ModelData) -> bytes:
    def bad(number: int, what: str) -> ArtifactError:
        return ArtifactError(f"{cc_path}: line {number}: {what}; expected a model_data.cc written by edgemnist")

    array, length_symbol = layout.array_symbol, layout.length_symbol
    opening, closing = layout.array_open(), layout.array_close
    byte_line, length_pattern = layout.byte_line, layout.length_pattern
    assert_pattern, assert_message = layout.assert_pattern, layout.assert_message_pattern
    include = layout.include_pattern
    per_line = layout.bytes_per_line
    data = bytearray()
    state = "preamble"
    stated_id = length = None
    short = False  # a line of fewer than bytes_per_line bytes was read: it must have been the last
    read = 0
    for number, line in lines:
        read += len(line) + 1
        if read > allowlist.MICRO_MAX_SOURCE_BYTES:  # the file grew while it was read
            raise bad(number, f"more than {allowlist.MICRO_MAX_SOURCE_BYTES} bytes")
        if state == "bytes":
            if line == closing:
                state = "length"
                continue
            if short or not byte_line.fullmatch(line):
                raise bad(
                    number,
                    f"not a line of at most {per_line} bytes written like '  0x1c, 0x00,' after full lines of "
                    f"{per_line} (got {line.strip()[:40]!r})",
                )
            chunk = bytes.fromhex(line.replace("0x", "").replace(",", "").replace(" ", ""))
            short = len(chunk) < per_line
            data += chunk
            if len(data) > allowlist.MICRO_MAX_MODEL_BYTES:
                raise bad(
                    number,
                    f"the array holds more than {allowlist.MICRO_MAX_MODEL_BYTES} bytes, more than "
                    f"any model of this network",
                )
            continue
        if not line.strip() or line.startswith("//"):
            continue
        if state == "preamble":
            m = assert_pattern.fullmatch(line)
            if m is not None and stated_id is None:
                stated_id, state = m.group(1), "assert-message"
            elif include.fullmatch(line):
                continue
            elif line == opening:
                state = "bytes"
            else:
                raise bad(number, f"unexpected text {line[:60]!r} (no array '{array}[] = {{' before it)")
        elif state == "assert-message":
            if not assert_message.fullmatch(line):
                raise bad(number, "the static_assert's message is malformed")
            state = "preamble"
        elif state == "length":
            m = length_pattern.fullmatch(line)
            if m is None:
                raise bad(
                    number,
                    f"'{length_symbol}' must follow the array, as a plain decimal number of bytes (got {line[:60]!r})",
                )
            length, state = int(m.group(1)), "end"
        else:
            raise bad(number, f"unexpected text after '{length_symbol}': {line[:60]!r}")
    if state in ("preamble", "assert-message"):
        raise ArtifactError(
            f"{cc_path}: no array '{array}[] = {{...}}' found; expected a model_data.cc written by edgemnist"
        )
    if state == "bytes":
        raise ArtifactError(f"{cc_path}: the array '{array}' is not closed; the file is truncated")
    if length is None:
        raise ArtifactError(f"{cc_path}: no '{length_symbol} = <bytes>;' after the array; the file is truncated")
    if length != len(data):
        raise ArtifactError(f"{cc_path}: '{length_symbol}' says {length} bytes but the array holds {len(data)}")
    data = bytes(data)
    if stated_id is not None and stated_id != model_id(data):
        raise ArtifactError(
            f"{cc_path}: the static_assert states model id {stated_id} but the array's is "
            f"{model_id(data)}; the file was edited"
        )
    return data


def header_path(cc_path: str | Path, *, layout: ModelData = MODEL_DATA) -> Path:
    """The header of ``cc_path``: ``<stem>.h``, else the layout's header name beside it (a renamed copy)."""
    cc_path = Path(cc_path)
    own = cc_path.with_suffix(".h")
    return own if own.is_file() else cc_path.with_name(layout.header_name)


def read_header(
    h_path: str | Path, model_bytes: bytes, *, num_classes: int | None = None, layout: ModelData = MODEL_DATA
) -> tuple[dict | None, str]:
    """({MicroModel field: value} for every constant, plus ``arena_min_bytes``; "") when ``h_path`` is a
    header edgemnist wrote for exactly ``model_bytes`` with every constant in its one spelling; else
    (None, why it is not trusted). ``num_classes``: the model's output width (default: read from
    ``model_bytes``)."""
    h_path = Path(h_path)
    if not h_path.is_file():  # missing, or a FIFO / device / folder: never opened
        return None, "no such regular file"
    try:
        with open(h_path, "rb") as fh:
            raw = fh.read(MAX_HEADER_BYTES + 1)
    except OSError as exc:
        return None, f"cannot read it ({exc.strerror or exc})"
    if len(raw) > MAX_HEADER_BYTES:
        return None, f"larger than {MAX_HEADER_BYTES} bytes"
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None, "not ASCII text"
    by_symbol = {c.symbol: c for c in layout.constants}
    prefix = os.path.commonprefix([c.symbol for c in layout.constants] + [layout.model_id_symbol])
    values: dict = {}
    stated_id = None
    for line in text.splitlines():
        if line.startswith("//") or not line.startswith("constexpr"):
            if prefix and prefix in line and not line.startswith("//"):
                return None, f"a constant not in the exporter's form: {line[:60]!r}"
            continue
        symbol = line.split(" = ")[0].split(" ")[-1]
        if symbol == layout.model_id_symbol:
            m = layout.model_id_pattern.fullmatch(line)
            if m is None or stated_id is not None:
                return None, f"{layout.model_id_symbol} is not stated once in its one spelling"
            stated_id = m.group(1)
            continue
        constant = by_symbol.get(symbol)
        value = constant.parse_line(line) if constant is not None else None
        if value is None:
            return None, f"a constant not in the exporter's form: {line[:60]!r}"
        if constant.field in values:
            return None, f"{symbol} is stated twice"
        values[constant.field] = value
    missing = [c.symbol for c in layout.constants if c.field not in values]
    if missing:
        return None, f"missing {', '.join(missing)}"
    if stated_id != model_id(model_bytes):
        return None, "it states another model's id"
    sha = layout.sha_comment.search(text)
    if sha is None or sha.group(1) != sha256_bytes(model_bytes):
        return None, "its comment states another model's sha256"
    least = layout.arena_comment.search(text)
    arena, alignment = values["arena_bytes"], values["arena_alignment"]
    if least is None or int(least.group(1)) != arena:
        return None, f"its arena comment does not state {arena} bytes"
    values["arena_min_bytes"] = int(least.group(2))
    if not (
        alignment == layout.alignment
        and 0 < arena <= MAX_ARENA_BYTES
        and arena == round_up(values["arena_min_bytes"], alignment)
    ):
        return None, f"arena {arena} is not its minimum {values['arena_min_bytes']} rounded up to {alignment}"
    try:
        classes = classes_of(model_bytes) if num_classes is None else num_classes
    except ArtifactError:
        return None, "its array is not a TFLite model whose output width can be read"
    if values["input_size"] != spec.INPUT_SIZE or values["num_classes"] != classes:
        return None, "its tensor sizes are not this network's"
    if not all(math.isfinite(values[k]) and values[k] > 0 for k in ("input_scale", "output_scale")):
        return None, "a scale that is not a positive finite number"
    if not all(-128 <= values[k] <= 127 for k in ("input_zero_point", "output_zero_point")):
        return None, "a zero point outside [-128, 127]"
    return values, ""


def read_micro(cc_path: str | Path, header: str | Path | None = None, *, layout: ModelData = MODEL_DATA) -> MicroModel:
    """Read a model_data.cc back, with the constants of its header (``header``, default ``header_path``).

    Both are parsed strictly and with bounded memory (module doc); the array must have the structure of a
    TFLite model of this network (``edgemnist.flatbuffer.check_tflite``). A stale, foreign or damaged header
    gives ``arena_bytes`` 0 and NaN scales (the caller then measures the arena itself).
    """
    cc_path = Path(cc_path)
    model_bytes = read_array(cc_path, layout=layout)
    check_tflite(model_bytes, f"{cc_path}: the array")
    num_classes = classes_of(model_bytes, f"{cc_path}: the array")
    h_path = Path(header) if header is not None else header_path(cc_path, layout=layout)
    values, _why = read_header(h_path, model_bytes, layout=layout)
    if values is None:
        nan = float("nan")
        return MicroModel(
            cc_path,
            h_path,
            model_bytes,
            arena_bytes=0,
            arena_min_bytes=0,
            arena_alignment=layout.alignment,
            input=Quant(nan, 0),
            output=Quant(nan, 0),
            num_classes=num_classes,
        )
    return MicroModel(
        cc_path,
        h_path,
        model_bytes,
        arena_bytes=values["arena_bytes"],
        arena_min_bytes=values["arena_min_bytes"],
        arena_alignment=values["arena_alignment"],
        input=Quant(values["input_scale"], values["input_zero_point"]),
        output=Quant(values["output_scale"], values["output_zero_point"]),
        num_classes=num_classes,
    )


def classes_of(model_bytes: bytes, origin: str = "the model") -> int:
    """The output width of the TFLite model in ``model_bytes`` (``edgemnist.modelfacts``, the one reader)."""
    from edgemnist.modelfacts import parse_facts

    return parse_facts(model_bytes, origin).output_size
