"""Log lines as the API streams them (``{"source", "line"}``), as Text."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from rich.text import Text

SOURCE_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_magenta", "bright_cyan")


def format_log_line(entry: Mapping[str, Any], width: int = 0) -> Text:
    """``"web    | GET / 200"``, the source colored the same way every time."""
    source = str(entry.get("source") or "?")
    style = "dim" if source == "colony" else SOURCE_STYLES[zlib.crc32(source.encode()) % 7]
    out = Text.assemble((source.ljust(width), style), (" | ", style))
    out.append_text(Text.from_ansi(str(entry.get("line", "")).rstrip("\n")))
    return out
