"""Pick the most accurate model a target can hold (``edgemnist fit``).

- ``grid``: the candidates (hidden widths x weight bits) and how a ``--grid`` is read;
- ``search``: train (cached), export, build, run under the emulator, measure, select;
- ``report``: the table, the Markdown and JSON reports and the Pareto plot, rendered from the results only.
"""
