"""A minimal reader of the WebAssembly binary format: the import and export sections, nothing else.

``inspect_module(data) -> WasmModule``: what a module imports (it must be nothing for an edgemnist module) and
exports; used by the wasm build check, the web exporter's facts and the runtime before a module is instantiated.
Malformed input is a BuildError, never an IndexError.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemnist.errors import BuildError

MAGIC = b"\0asm\x01\0\0\0"


@dataclass(frozen=True)
class WasmModule:
    imports: tuple[tuple[str, str], ...]  # (module, name)
    exports: tuple[str, ...]


def _byte(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise BuildError("truncated wasm module")
    return data[pos]


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = _byte(data, pos)
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _leb(data, pos)
    if pos + n > len(data):
        raise BuildError("truncated wasm module")
    return data[pos : pos + n].decode("utf-8", "replace"), pos + n


def _limits(data: bytes, pos: int) -> int:
    flags = _byte(data, pos)
    _, pos = _leb(data, pos + 1)
    if flags & 1:
        _, pos = _leb(data, pos)
    return pos


def inspect_module(data: bytes) -> WasmModule:
    """Imports and exports of a wasm binary."""
    if data[:8] != MAGIC:
        raise BuildError("not a WebAssembly (version 1) module")
    pos, imports, exports = 8, [], []
    while pos < len(data):
        section = data[pos]
        size, pos = _leb(data, pos + 1)
        end = pos + size
        if section == 2:  # imports
            count, p = _leb(data, pos)
            for _ in range(count):
                module, p = _name(data, p)
                name, p = _name(data, p)
                kind = _byte(data, p)
                p += 1
                if kind == 0:
                    _, p = _leb(data, p)
                elif kind == 1:
                    p = _limits(data, p + 1)
                elif kind == 2:
                    p = _limits(data, p)
                elif kind == 3:
                    p += 2
                else:
                    p += 1
                    _, p = _leb(data, p)
                imports.append((module, name))
        elif section == 7:  # exports
            count, p = _leb(data, pos)
            for _ in range(count):
                name, p = _name(data, p)
                _, p = _leb(data, p + 1)
                exports.append(name)
        pos = end
    return WasmModule(tuple(imports), tuple(exports))
