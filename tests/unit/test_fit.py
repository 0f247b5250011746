"""edgemnist fit without training: grid and size parsing, selection (ties, nothing fits), report rendering on
recorded candidate results, and the CLI's bad-input exits."""

from __future__ import annotations

import json

import pytest

from edgemnist.cli import main
from edgemnist.errors import ConfigError
from edgemnist.fit import report
from edgemnist.fit.grid import DEFAULT_HIDDEN, Candidate, candidates, parse_bits, parse_grid
from edgemnist.fit.search import Budget, Result, Search, Settings, nothing_fits, search_record, select
from edgemnist.units import parse_size


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("65536", 65536),
        ("64K", 65536),
        ("64KiB", 65536),
        ("64kB", 64000),
        ("1M", 1 << 20),
        ("1MB", 10**6),
        ("8k", 8192),
        (" 128K ", 131072),
        ("512B", 512),
    ],
)
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["12Q", "", "K", "0", "-5K", "64KB", "1e3", "64 K K"])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError, match="expected a size"):
        parse_size(text)


def test_grid_parsing_and_order():
    assert parse_grid(None) == DEFAULT_HIDDEN
    assert parse_grid("32 64,32; 128 32") == ((32,), (64, 32), (128,))
    assert parse_bits("8,4") == (8, 4)
    grid = candidates(parse_grid("64,32 128 16"), (8, 2))
    assert [c.label for c in grid] == ["16 w8", "16 w2", "128 w8", "128 w2", "64,32 w8", "64,32 w2"]
    for bad in ("0", "16 0", "a", " ", "16,,8"):
        with pytest.raises(ConfigError):
            parse_grid(bad)
    for bad in ("3", "8,x", ""):
        with pytest.raises(ConfigError, match="weight bits"):
            parse_bits(bad)


def _r(hidden, bits=8, *, acc=0.975, text=50_000, ram=2_000, instr=60_000.0, passes=True, status="ok"):
    return Result(
        Candidate.of(hidden, bits),
        status,
        accuracy=acc,
        floor=0.9738,
        passes=passes,
        text_bytes=text,
        ram_bytes=ram,
        data_bytes=0,
        bss_bytes=ram // 2,
        stack_bytes=ram // 2,
        instructions=instr,
        differing_bytes=0,
        images=100,
    )


RESULTS = (
    _r((32,), acc=0.961, text=28_000, instr=36_000, passes=False),
    _r((64,), acc=0.9745, text=54_000, instr=70_000),
    _r((64, 32), acc=0.9745, text=56_000, instr=66_000),  # same accuracy, fewer instructions: wins the tie
    _r((128,), acc=0.978, text=104_000, ram=2_300, instr=140_000),
    Result(Candidate.of((64,), 4), "not supported", note="weight bits 4: --format c supports 8 only"),
)


def test_select_ties_go_to_fewer_instructions():
    assert select(RESULTS, Budget("cortex-m4", 64 << 10, 8 << 10)).candidate.hidden == (64, 32)
    assert select(RESULTS, Budget("cortex-m4", 128 << 10, 8 << 10)).candidate.hidden == (128,)
    assert select(RESULTS, Budget("cortex-m4", 128 << 10, 2_100)).candidate.hidden == (64, 32)  # 128's RAM


def test_nothing_fits_names_the_smallest_budget():
    budget = Budget("cortex-m4", 32 << 10, 8 << 10)
    assert select(RESULTS, budget) is None  # 32 fits but fails the gate
    text = nothing_fits(RESULTS, budget)
    assert "64 w8" in text and "--flash 54000" in text and "--ram 2000" in text
    none_pass = [_r((16,), acc=0.9, text=15_000, passes=False)]
    assert "none passes the gate" in nothing_fits(none_pass, budget)
    assert "no candidate was measured" in nothing_fits(RESULTS[-1:], budget)


def test_reports_render_every_result():
    search = Search(
        Budget("cortex-m4", 64 << 10, 8 << 10),
        Settings(),
        tuple(r.candidate for r in RESULTS),
        tuple(sorted(RESULTS, key=lambda r: r.candidate)),
        1.0,
    )
    md = report.markdown(search)
    assert "| 64,32 w8 | 97.45% | 56,000 B | 2,000 B | 66,000 | yes | yes | chosen |" in md
    assert "| 64 w4 | - | - | - | - | - | - | not supported |" in md
    assert "| 128 w8 | 97.80% | 104,000 B | 2,300 B | 140,000 | no | yes |  |" in md
    record = json.loads(json.dumps(search_record(search)))
    assert record["chosen"]["label"] == "64,32 w8" and len(record["results"]) == len(RESULTS)
    assert Result.from_dict(record["results"][1]) == sorted(RESULTS, key=lambda r: r.candidate)[1]


def test_plot_writes_a_png(tmp_path):
    search = Search(Budget("cortex-m4", 64 << 10, 8 << 10), Settings(), (), RESULTS, 1.0)
    path = report.plot(search, tmp_path / "pareto.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dry_run_lists_the_grid(capsys):
    assert main(["fit", "--flash", "64K", "--grid", "16 64,32", "--bits", "8", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 candidates for cortex-m4 (flash 65,536 B" in out and "64,32 w8" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--target", "nope"], "unknown build target 'nope'; expected one of host,"),
        (["--target", "wasm32"], "not a firmware run under an emulator; expected one of cortex-m"),
        (["--flash", "12Q"], "expected a size such as 65536"),
        (["--ram", "0"], "expected a size"),
        (["--grid", "16 0"], "grid stack '0'"),
        (["--bits", "3"], "expected weight bits"),
        (["--max-minutes", "0"], "--max-minutes"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    out = tmp_path / "fit"
    assert main(["fit", *argv, "--dry-run", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1
    assert not out.exists()
