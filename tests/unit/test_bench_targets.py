"""``bench --target NAME`` over the build target table, without running a compiler: an unknown or non-firmware
target is refused naming the known ones, a missing toolchain names its Debian packages, and a firmware that does not
fit its board renders as such (terminal table, the cross-core Markdown table, the README summary)."""

from __future__ import annotations

import pytest

from edgemnist.bench import cores, render
from edgemnist.build import targets
from edgemnist.cli import main

FIRMWARE = [t.name for t in targets.TARGETS if t.kind == "firmware"]


def test_every_core_is_a_firmware_target():
    assert {"cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "riscv32"} <= set(FIRMWARE)


@pytest.mark.parametrize(("target", "says"), [("cortex-m99", "unknown target"), ("wasm32", "is not a firmware target")])
def test_an_unknown_or_non_firmware_target_is_refused_naming_the_known_ones(target, says, tmp_path, capsys):
    assert main(["bench", str(tmp_path / "edgemnist_model.c"), "--target", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and err.count("\n") == 1
    assert all(name in err for name in ["host", *FIRMWARE])


def test_a_missing_toolchain_names_its_debian_packages(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing is installed
    assert main(["bench", str(tmp_path / "edgemnist_model.c"), "--target", "riscv32"]) == 2
    err = capsys.readouterr().err
    assert "riscv64-unknown-elf-gcc" in err and "qemu-system-riscv32" in err
    assert "apt-get install gcc-riscv64-unknown-elf" in err and "qemu-system-misc" in err


def _fig(instructions: float, fits: bool = True) -> dict:
    if not fits:
        return {"path": "portable", "fits": False, "overflow_bytes": {"flash": 153020}}
    return {
        "path": "cortex-m-dsp",
        "fits": True,
        "instructions_per_inference": instructions,
        "stack_peak_bytes": 320,
        "kernel_stack_bytes": 200,
        "differing_bytes_vs_host": 0,
        "sizes": {
            "text_bytes": 414728,
            "model_constants_bytes": 412258,
            "kernel_code_bytes": 1635,
            "harness_code_bytes": 835,
            "data_bytes": 0,
            "bss_bytes": 1312,
            "ram_bytes": 1632,
        },
    }


def _target(name: str, core: str, paths: dict) -> dict:
    return {
        "target": name,
        "core": core,
        "emulator_machine": "m",
        "counter": "SysTick at 25 MHz = 40 instructions per tick",
        "board": f"QEMU m ({core})",
        "board_memory": {"flash_bytes": 256 << 10, "ram_bytes": 16 << 10},
        "toolchain": {"gcc": "gcc", "flags": "-O2"},
        "images": 10,
        "c": {"artifact": "edgemnist_model.c", "source": "model.int8.tflite"},
        "paths": paths,
    }


def _report(targets: list) -> dict:
    return {
        "schema": cores.SCHEMA,
        "date": "2026-01-02T03:04:05Z",
        "c": {"artifact": "edgemnist_model.c", "source": "model.int8.tflite", "source_sha256": "ab" * 32},
        "images": 10,
        "macs": 406528,
        "targets": targets,
    }


def test_a_firmware_that_does_not_fit_renders_as_such():
    m0 = _target("cortex-m0", "Cortex-M0", {"portable": _fig(0, fits=False)})
    header, rows = render.cortex_m4_table(m0)
    table = {row[0].strip(): row[1:] for row in rows}
    assert header == ["Cortex-M0", "portable path"] and table["fits the board's memory"] == ["no: flash by 153,020 B"]
    assert table["instructions per inference"] == ["-"]
    assert "outputs: not run: the firmware does not fit the board's memory" in render.cortex_m4_footer(m0)
    m4 = _target("cortex-m4", "Cortex-M4", {"dsp": _fig(544679.4), "portable": _fig(1220866.0)})
    report = _report([m0, m4])
    md = cores.render_markdown(report)
    assert (
        "| `cortex-m0` (Cortex-M0) | `m` | portable | - | - | - | 256 KB / 16 KB | **no**: flash short by 153,020 B |"
        in md
    )
    assert "| 544,679 | 414,728: 412,258 + 1,635 + 835 | 1,632: 1,312 + 320 | 256 KB / 16 KB | yes | 0 |" in md
    summary = cores.render_summary(report)
    assert "| Cortex-M4 (`cortex-m4`) | 544,679 | cortex-m-dsp | yes |" in summary
    assert "| Cortex-M0 (`cortex-m0`) | - | - | **no**: flash short by 153,020 B |" in summary


def test_a_board_the_8_bit_model_overflows_shows_the_low_bit_rows_that_fit():
    m0 = _target("cortex-m0", "Cortex-M0", {"portable": _fig(0, fits=False)})
    m0_w4 = {
        **_target("cortex-m0", "Cortex-M0", {"portable": _fig(3961984.2)}),
        "weight_bits": 4,
        "c": {"artifact": "edgemnist_model.c", "source": "model.int8-w4.tflite", "source_sha256": "cd" * 32},
        "macs": 406528,
    }
    report = _report([m0, m0_w4])
    md = cores.render_markdown(report)
    assert "| `cortex-m0` (Cortex-M0, 4-bit weights) | `m` | cortex-m-dsp | 3,961,984 |" in md
    assert "`cortex-m0`, 4-bit weights: `edgemnist_model.c` from `model.int8-w4.tflite` (sha256 `cdcdcdcdcdcd...`" in md
    assert md.count("`cortex-m0`: SysTick") == 1
    summary = cores.render_summary(report).splitlines()
    assert summary[2:] == [
        "| Cortex-M0 (`cortex-m0`) | 3,961,984 with 4-bit weights | cortex-m-dsp | with 4-bit weights; 8-bit **no**: "
        "flash short by 153,020 B |"
    ]
