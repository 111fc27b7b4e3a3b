"""Warnings a spawn returns (issue 12)."""

from __future__ import annotations

from colony.core.agents.presets import not_installed
from colony.core.notices import plural, uncommitted_warning
from colony.errors import ConfigError


def test_uncommitted_warning_names_the_files_and_what_the_colony_gets() -> None:
    """When the working tree has changes, the warning counts and names them (at most three)."""
    text = uncommitted_warning(["a.py", "b.py", "c.py", "d.py"], "/src/shop")
    assert text is not None
    assert text.startswith("/src/shop: 4 uncommitted files (a.py, b.py, c.py, …) are not in")
    assert "only colony.toml is read from the working tree" in text


def test_clean_tree_gives_no_warning() -> None:
    """When nothing is uncommitted, there is no warning."""
    assert uncommitted_warning([], "/src/shop") is None


def test_plural() -> None:
    """When counting, one is singular and others plural."""
    assert [plural(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]


def test_missing_agent_names_the_program_and_how_to_install_it() -> None:
    """When an agent's program is missing, the error names it and the PATH, and the hint says
    how to install it and which other presets exist; it is a 400, not a 500."""
    exc = not_installed("claude", "claude", "/usr/bin:/bin")
    assert isinstance(exc, ConfigError)
    assert str(exc) == "claude: not found on the colony's PATH (/usr/bin:/bin)"
    assert exc.hint is not None
    assert "npm install -g @anthropic-ai/claude-code" in exc.hint
    assert "--agent (aider, codex, gemini)" in exc.hint


def test_exit_by_signal_reads_as_killed() -> None:
    """When a process ended on a signal (a negative code), it reads 'killed by SIGKILL'."""
    from colony.core.notices import exit_text

    assert [exit_text(c) for c in (-9, -15, 0, 3, None)] == [
        "killed by SIGKILL",
        "killed by SIGTERM",
        "exit 0",
        "exit 3",
        "exit None",
    ]
