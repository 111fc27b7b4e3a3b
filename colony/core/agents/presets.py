"""Agent presets and command templates → the argv of one agent run. Pure.

A preset names a real agent CLI and its documented non-interactive flags; a template is any
command containing ``{prompt}``. The prompt is substituted into one argv element, never
through a shell, so a task cannot inject commands.

Example:
    >>> plan = plan_run(Agent(preset="claude"), None, None, "fix the login bug")
    >>> plan.argv[:3], plan.format
    (('claude', '-p', 'fix the login bug'), 'claude')
"""

from __future__ import annotations

import re
import shlex
import signal
from dataclasses import dataclass

from colony.core.config import Agent
from colony.errors import ConfigError, Conflict

MAX_TASK = 100_000  # characters; one argv element may hold 128 KiB
DEFAULT_PRESET = "claude"
Step = tuple[int, float]  # (signal, seconds to wait for the exit before the next step)


@dataclass(frozen=True)
class Preset:
    """One agent CLI: how to run a task, how to continue a session, how to interrupt it."""

    name: str
    run: tuple[str, ...]  # argv template with {prompt}
    resume: tuple[str, ...] | None  # with {prompt} and {session}; None: cannot continue
    format: str  # parser of its output (colony.core.agents.parse.parse_line)
    interrupt: tuple[Step, ...]
    resume_needs_session: bool = True


# How to install each preset's CLI, for the error when it is missing (issue 12).
INSTALL = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "aider": "python3 -m pip install aider-install && aider-install",
}


_INT_TERM_KILL: tuple[Step, ...] = (
    (signal.SIGINT, 5.0),
    (signal.SIGTERM, 5.0),
    (signal.SIGKILL, 0.0),
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        # Claude Code: print mode, one JSON event per line; --verbose is required with
        # stream-json. acceptEdits lets it edit files without a prompt nobody could answer.
        Preset(
            "claude",
            ("claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose",
             "--permission-mode", "acceptEdits"),
            ("claude", "-p", "{prompt}", "--resume", "{session}", "--output-format",
             "stream-json", "--verbose", "--permission-mode", "acceptEdits"),
            "claude",
            _INT_TERM_KILL,
        ),
        # Codex: `codex exec` is its non-interactive mode; --json prints JSONL events;
        # --full-auto lets it write in its working directory.
        Preset(
            "codex",
            ("codex", "exec", "--json", "--full-auto", "{prompt}"),
            ("codex", "exec", "--json", "--full-auto", "resume", "{session}", "{prompt}"),
            "codex",
            _INT_TERM_KILL,
        ),
        # Aider: --message runs one instruction and exits; it keeps its chat history in the
        # workspace, so continuing restores that history rather than naming a session.
        Preset(
            "aider",
            ("aider", "--message", "{prompt}", "--yes-always"),
            ("aider", "--message", "{prompt}", "--yes-always", "--restore-chat-history"),
            "aider",
            # The first Ctrl-C only interrupts the model's reply; the second exits.
            ((signal.SIGINT, 2.0), (signal.SIGINT, 5.0), *_INT_TERM_KILL[1:]),
            resume_needs_session=False,
        ),
        # Gemini CLI: -p is headless mode; stream-json prints JSONL events.
        Preset(
            "gemini",
            ("gemini", "-p", "{prompt}", "--output-format", "stream-json",
             "--approval-mode", "auto_edit"),
            ("gemini", "--resume", "{session}", "-p", "{prompt}", "--output-format",
             "stream-json", "--approval-mode", "auto_edit"),
            "gemini",
            _INT_TERM_KILL,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class AgentPlan:
    """What to start for one agent run."""

    agent: str  # preset name, or "command" for a template
    argv: tuple[str, ...]
    format: str  # "claude" | "codex" | "aider" | "gemini" | "auto"
    interrupt: tuple[Step, ...]
    template: str | None = None  # the command template, when not a preset


_FIELD_RE = re.compile(r"\{(prompt|session)\}")


def check_task(task: object, what: str = "task") -> str:
    """The task, or ConfigError when it is empty or too long."""
    if not isinstance(task, str) or not task.strip():
        raise ConfigError(f"{what}: expected a non-empty task, got {task!r}")
    if len(task) > MAX_TASK:
        raise ConfigError(f"{what}: expected at most {MAX_TASK} characters, got {len(task)}")
    return task


def find_preset(name: str, what: str = "agent") -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(
            f"{what}: unknown preset {name!r}: expected one of {known}",
            hint="or give a command template containing {prompt}",
        )
    return preset


def not_installed(agent: str, program: str, path: str) -> ConfigError:
    """The error for an agent whose program is on none of the colony's PATH directories
    (``exec`` reports ENOENT, or EACCES when one of them is not the colony's to search).

    Example:
        >>> str(not_installed("claude", "claude", "/usr/bin:/bin"))
        "claude: not found on the colony's PATH (/usr/bin:/bin)"
    """
    others = ", ".join(p for p in sorted(PRESETS) if p != agent)
    how = f"install it with '{INSTALL[agent]}'" if agent in INSTALL else f"install {program}"
    return ConfigError(
        f"{program}: not found on the colony's PATH ({path})",
        hint=f"{how} where every user can run it (or set Mycelium's COLONY_PATH), "
        f"or choose another preset with --agent ({others}) or a command with --command",
    )


def check_template(command: str, what: str = "command") -> str:
    if "{prompt}" not in command:
        raise ConfigError(f"{what}: expected a command containing '{{prompt}}', got {command!r}")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"{what}: cannot split {command!r}: {exc}") from exc
    if not argv:
        raise ConfigError(f"{what}: expected a command containing '{{prompt}}', got {command!r}")
    return command


def _fill(template: tuple[str, ...], prompt: str, session: str | None) -> tuple[str, ...]:
    values = {"prompt": prompt, "session": session or ""}
    # One pass per element: a prompt containing "{session}" stays as written.
    return tuple(_FIELD_RE.sub(lambda m: values[m.group(1)], part) for part in template)


def plan_run(
    cfg: Agent, preset: str | None, command: str | None, task: str, source: str = "colony.toml"
) -> AgentPlan:
    """The run of ``task`` with the agent chosen by the flags, else colony.toml's ``[agent]``.

    Raises:
        ConfigError: unknown preset, a template without ``{prompt}``, both given, bad task.
    """
    check_task(task)
    if preset and command:
        raise ConfigError("agent: expected a preset or a command, got both")
    if command:
        return _template(command, task, "command")
    if preset:
        return _preset(preset, task, "agent")
    if cfg.command:
        return _template(cfg.command, task, f"{source}: agent.command")
    return _preset(cfg.preset or DEFAULT_PRESET, task, f"{source}: agent.preset")


def _template(command: str, task: str, what: str) -> AgentPlan:
    check_template(command, what)
    argv = _fill(tuple(shlex.split(command)), task, None)
    return AgentPlan("command", argv, "auto", _INT_TERM_KILL, template=command)


def _preset(name: str, task: str, what: str) -> AgentPlan:
    found = find_preset(name, what)
    return AgentPlan(found.name, _fill(found.run, task, None), found.format, found.interrupt)


def plan_resume(agent: str, session: str | None, task: str) -> AgentPlan:
    """The run that continues an earlier session of ``agent`` with ``task``.

    Raises:
        Conflict: the agent cannot continue sessions, or the earlier run reported no session id.
    """
    check_task(task)
    preset = PRESETS.get(agent)
    if preset is None or preset.resume is None:
        raise Conflict(
            f"agent {agent!r} cannot continue a session",
            hint="use a preset (claude, codex, aider, gemini) to continue sessions",
        )
    if preset.resume_needs_session and not session:
        raise Conflict(
            f"the {agent} session reported no session id, so it cannot be continued",
            hint="start a new session with 'colony agent run'",
        )
    argv = _fill(preset.resume, task, session)
    return AgentPlan(preset.name, argv, preset.format, preset.interrupt)


def interrupt_steps(agent: str) -> tuple[Step, ...]:
    preset = PRESETS.get(agent)
    return preset.interrupt if preset else _INT_TERM_KILL
