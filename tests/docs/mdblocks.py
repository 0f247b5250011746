"""The README's and docs/'s Markdown as data: fenced code blocks, links and headings (no Markdown library)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)\s*$")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")
#: Shell operators that end one command and start the next on the same line.
_SEPARATORS = {"&&", "||", ";", "|"}


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts (1-based line of the opening fence), its language and its text."""

    path: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO).as_posix()}:{self.line}"


def doc_files() -> list[Path]:
    """The README and every page of docs/, in a stable order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``; an unclosed fence is an error (the rest of the page would be code)."""
    out, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{path}:{start + 1}: a {fence} block that is never closed")
        out.append(Block(path, start + 1, lang, "\n".join(body) + "\n"))
        i += 1
    return out


def all_blocks(*langs: str) -> list[Block]:
    return [b for path in doc_files() for b in blocks(path) if b.lang in langs]


def shell_commands(block: Block) -> list[tuple[int, list[str]]]:
    """(line, argv) of every simple command in a shell block: continuation lines joined, comments dropped, split at
    ``&&``, ``||``, ``;`` and ``|``."""
    out, pending, first = [], "", 0
    for n, line in enumerate(block.text.splitlines(), start=block.line + 1):
        if not pending:
            first = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words = shlex.split(pending + line, comments=True)
        pending = ""
        command: list[str] = []
        for word in [*words, ";"]:
            if word in _SEPARATORS:
                if command:
                    out.append((first, command))
                command = []
            else:
                command.append(word)
    return out


def edgemnist_argv(argv: list[str]) -> list[str] | None:
    """The arguments after ``edgemnist`` or ``python -m edgemnist`` (environment assignments before it skipped),
    else None."""
    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
        argv = argv[1:]
    if argv[:1] == ["edgemnist"]:
        return argv[1:]
    if argv[:3] == ["python", "-m", "edgemnist"] or argv[:3] == ["python3", "-m", "edgemnist"]:
        return argv[3:]
    return None


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link and image outside code blocks."""
    out, in_code = [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            out += [(n, target) for target in _LINK.findall(line)]
    return out


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``path`` (lower case, punctuation dropped, spaces to hyphens)."""
    out, in_code = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        m = None if in_code else _HEADING.match(line)
        if m:
            text = re.sub(r"[`*]", "", m.group(1)).strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out
