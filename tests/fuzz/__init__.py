"""The hostile-file suite: builders of known-bad files, structure-aware mutators, a child-process harness."""
