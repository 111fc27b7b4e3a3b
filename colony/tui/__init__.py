"""Stem, the terminal UI: a Textual app over :mod:`colony.client` (``colony tui``)."""
