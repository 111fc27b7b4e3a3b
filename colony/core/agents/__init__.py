"""Agents: presets and templates (:mod:`.presets`), their output parsed into events
(:mod:`.events` and one module per format). Pure: no processes, no clocks."""

from colony.core.agents.events import AgentEvent, Summary, finish
from colony.core.agents.parse import parse_line, sniff
from colony.core.agents.presets import (
    PRESETS,
    AgentPlan,
    Preset,
    check_task,
    find_preset,
    interrupt_steps,
    plan_resume,
    plan_run,
)

__all__ = [
    "PRESETS",
    "AgentEvent",
    "AgentPlan",
    "Preset",
    "Summary",
    "check_task",
    "find_preset",
    "finish",
    "interrupt_steps",
    "parse_line",
    "plan_resume",
    "plan_run",
    "sniff",
]
