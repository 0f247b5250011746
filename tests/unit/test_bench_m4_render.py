"""``bench --target cortex-m4`` rendering, from a report dict alone: the terminal table and the Markdown."""

from __future__ import annotations

from edgemnist.bench import render
from edgemnist.bench.terminal import print_cortex_m4


def _report() -> dict:
    def path(name, instructions, text):
        return {
            "path": name,
            "instructions_per_inference": instructions,
            "instructions_per_mac": instructions / 406528,
            "stack_peak_bytes": 320,
            "kernel_stack_bytes": 200,
            "differing_bytes_vs_host": 0,
            "sizes": {
                "text_bytes": text,
                "data_bytes": 0,
                "bss_bytes": 1312,
                "model_constants_bytes": 412258,
                "kernel_code_bytes": 1622,
                "harness_code_bytes": 836,
                "kernel_bss_bytes": 512,
                "ram_bytes": 1632,
            },
        }

    return {
        "date": "2026-01-02T03:04:05Z",
        "images": 100,
        "board": "QEMU mps2-an386 (Cortex-M4)",
        "toolchain": {"gcc": "arm-none-eabi-gcc 12.2.1", "flags": "-mcpu=cortex-m4 -mthumb -O2 -std=c99"},
        "c": {"artifact": "edgemnist_model.c", "source": "model.int8.tflite"},
        "paths": {"dsp": path("cortex-m-dsp", 544679.48, 414716), "portable": path("portable", 1220866.4, 414580)},
    }


def test_the_table_has_a_column_per_path_and_reads_only_the_report():
    header, rows = render.cortex_m4_table(_report())
    assert header == ["Cortex-M4", "dsp path", "portable path"]
    table = {row[0].strip(): row[1:] for row in rows}
    assert table["instructions per inference"] == ["544,679", "1,220,866"]
    assert table["firmware text (code + constants), B"] == ["414,716", "414,580"]
    assert table["RAM: data + bss, B"] == ["1,312", "1,312"]
    assert table["peak stack (firmware / predict), B"] == ["320 / 200", "320 / 200"]
    partial = _report()
    del partial["paths"]["portable"]["sizes"]["ram_bytes"]
    assert render.cortex_m4_table(partial)[1][-1] == ["RAM total (data + bss + stack), B", "1,632", "-"]


def test_the_terminal_gets_a_table_and_markdown_only_the_markdown_writer(capsys):
    print_cortex_m4(_report())
    out = capsys.readouterr().out
    assert "edgemnist_model.c (from model.int8.tflite): 100 MNIST test images per path" in out
    assert "544,679" in out and "byte-identical to the host build" in out
    assert "|" not in out.replace("│", "") and "<!--" not in out and "Targets" not in out
    assert all(len(line) <= 100 for line in out.splitlines())
    md = render.cortex_m4_markdown([_report()])
    assert "| instructions per inference | 544,679 | 1,220,866 |" in md and "<!--" not in md
    assert "Targets" not in md and "Measured 2026-01-02T03:04:05Z." in md
