"""Colony: many AI coding agents side by side, each in its own isolated colony."""

__version__ = "0.1.0"
