"""One size vocabulary: kB = 1000 B, one decimal, always kB; exact bytes with separators."""

from edgemnist.units import bytes_text, size_text


def test_sizes_are_always_kilobytes_of_1000_bytes():
    assert size_text(423192) == "423.2 kB"
    assert size_text(1_630_040) == "1,630.0 kB"  # never "1.6 MB" beside "1630.0 kB"
    assert size_text(999) == "1.0 kB" and size_text(0) == "0.0 kB"
    assert size_text(None) == "-"


def test_exact_bytes():
    assert bytes_text(9936) == "9,936 B" and bytes_text(0) == "0 B" and bytes_text(None) == "-"
