"""The README and docs/ as a user reads them: every ``edgemnist`` command line of a shell block parses with the real
command-line parser, every link resolves, the README stays a landing page, and no page, module, script or test
talks about tickets, their authors or figures this project did not measure."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from mdblocks import REPO, all_blocks, anchors, doc_files, edgemnist_argv, links, shell_commands  # noqa: E402

SHELL = ("bash", "sh", "shell", "console")
COMMANDS = [
    (b.where, line, argv)
    for b in all_blocks(*SHELL)
    for line, cmd in shell_commands(b)
    if (argv := edgemnist_argv(cmd)) is not None
]


def test_the_docs_have_edgemnist_commands_to_check():
    assert len(COMMANDS) >= 10, COMMANDS


@pytest.mark.parametrize(("where", "line", "argv"), COMMANDS, ids=[f"{w}+{n}" for w, n, _ in COMMANDS])
def test_every_documented_command_line_parses(where, line, argv, capsys):
    """A dry parse: the real parser (``edgemnist.cli.build_parser``), nothing is run."""
    from edgemnist.cli import build_parser

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(
            f"{where} (line {line}): `edgemnist {' '.join(argv)}` does not parse (exit {exc.code}): "
            f"{capsys.readouterr().err.strip()}"
        )
    assert args.command is not None, f"{where} (line {line}): no command in `edgemnist {' '.join(argv)}`"


def test_every_code_block_has_a_language_the_doc_tests_know():
    from mdblocks import blocks

    known = {*SHELL, "python", "c", "cpp", "js", "text"}
    unknown = [f"{b.where} ({b.lang or 'no language'})" for p in doc_files() for b in blocks(p) if b.lang not in known]
    assert not unknown, f"code blocks without a known language: {unknown}"


def test_every_link_resolves():
    broken = []
    for page in doc_files():
        for line, target in links(page):
            if re.match(r"^[a-z]+://|^mailto:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}:{line}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(REPO)}:{line}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_landing_page_that_links_every_docs_page():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "## The two commands" in readme  # .ci/run follows that section
    linked = {t.partition("#")[0] for _, t in links(REPO / "README.md")}
    unlinked = [p.name for p in doc_files()[1:] if f"docs/{p.name}" not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


#: What the project's pages and code never say: tickets and their authors, this build machine's limits, figures
#: quoted from someone else's measurement.
FORBIDDEN = re.compile(
    r"\bissues?\b|\bauthor of\b|measured by (?:its|the) author|re-measured here|reproduced here|offline here"
    r"|source offline",
    re.IGNORECASE,
)
#: Hand-typed counts of tests, cases or mutants in prose (such counts come from a run, and go stale).
COUNTS = re.compile(r"\b\d[\d,]* (?:passed|failed|tests|test cases|cases|mutants)\b")
TREES = ("README.md", "docs", "edgemnist", "benchmarks", "tests", "examples", "export/README.md", ".ci")
TEXT_SUFFIXES = {".md", ".py", ".c", ".h", ".cc", ".in", ".js", ".html", ".sh", ".json", ".toml", ".ld", ""}


def _files():
    for name in TREES:
        root = REPO / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix not in TEXT_SUFFIXES or path == Path(__file__).resolve():
                continue
            if name == "benchmarks" and "artifacts" in path.relative_to(root).parts[:1]:
                continue  # trained and exported by the scripts, ignored by git
            yield path


def test_no_page_module_or_test_speaks_about_tickets_or_quotes_figures_measured_elsewhere():
    found = []
    for path in _files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if FORBIDDEN.search(line) or (path.suffix == ".md" and COUNTS.search(line)):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:140]}")
    assert not found, f"{len(found)} lines:\n" + "\n".join(found)
