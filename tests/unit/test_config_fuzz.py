"""Property tests: whatever colony.toml holds, parsing yields a Config or a one-line ConfigError."""

import json
import math
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colony.core.config import (
    Config,
    merge_overrides,
    parse_config,
    parse_config_text,
    parse_limits,
)
from colony.errors import ConfigError

SOURCE = "fuzz/colony.toml"
FUZZ = settings(  # a few hundred examples each keeps the unit tier at a few seconds
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIGHT = settings(FUZZ, max_examples=150)

KEYS = [
    "colony", "name", "description", "environment", "services", "setup", "build", "commands",
    "command", "terminal", "limits", "cpu", "memory", "swap", "pids", "io_weight", "sandbox",
    "level", "user", "hide", "network", "egress", "allow", "expose_to", "agent", "preset",
    "check", "port", "working_dir", "env", "restart", "retries", "backoff", "ready_timeout",
    "stop_timeout", "web", "api", "PATH",
]  # fmt: skip
GOOD = [
    "npm run dev", "web", "api", 3000, 3001, 8000, "frontend", "../x", "/abs", "always",
    "on-failure", "never", "sometimes", 0, 1, 5, 0.5, 1.5, -1, "2G", "512M", "1.5G", "lots",
    "64", "strict", "none", "max", "alice", "allowlist", "deny", "maybe", ["pypi.org:443"],
    ["999.1.1.1"], ["10.1.2.0/24", "pypi.org"], ["web:3000"], ["web:api"], "claude",
    "run {prompt}", "pytest -q", {"NODE_ENV": "development"}, {"A B": "x"}, ["a", "b"], [],
    {}, True, "x" * 300, "a\nb",
]  # fmt: skip

keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
scalars = st.one_of(
    st.sampled_from(GOOD),
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([64, 4300, 5000]).map(lambda bits: 2**bits),  # past int→str limits
    st.floats(),
    st.text(max_size=40),
    st.datetimes(),
    st.dates(),
    st.times(),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=6,
)
value = st.one_of(st.sampled_from(GOOD), junk)


GOOD_BY_KEY: dict[str, list[object]] = {
    "name": ["shop", "web", "api"],
    "description": ["web shop"],
    "environment": [{"python_version": "3.11", "node_version": 20}],
    "command": ["npm run dev", "pytest -q", "run {prompt}"],
    "commands": [["make"], "make", []],
    "port": [3000, 3001, 8000],
    "working_dir": ["frontend", "./api/"],
    "env": [{"NODE_ENV": "development", "PORT": 3000}],
    "restart": ["always", "on-failure", "never"],
    "retries": [0, 3],
    "backoff": [0.5, 2],
    "ready_timeout": [30, 1.5],
    "stop_timeout": [5],
    "cpu": [1.5, "2", 0.25],
    "memory": ["2G", "512M", 2**20],
    "swap": [0, "1G"],
    "pids": [64, "512"],
    "io_weight": [100],
    "level": ["none", "basic", "moderate", "strict"],
    "user": ["alice"],
    "hide": [["~/.ssh"]],
    "egress": ["allow", "deny", "allowlist"],
    "allow": [["pypi.org:443", "10.1.2.0/24", "[::1]:80"]],
    "expose_to": [["web:3000", "api:db"]],
    "preset": ["claude", "codex"],
}


def mostly(
    good: st.SearchStrategy[object], bad: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """``good`` nine times out of ten, so that whole configs are valid often enough."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 0 else good)


def table(names: list[str], required: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, object]]:
    """Tables of a section: each real key holds a good value or junk; a few stray keys."""
    fields = {k: mostly(st.sampled_from(GOOD_BY_KEY[k]), value) for k in names}
    must = {k: fields.pop(k) for k in required}
    strays = st.dictionaries(keys, value, max_size=1)
    known = st.fixed_dictionaries(must, optional=fields)
    return st.builds(lambda a, b: {**b, **a}, known, strays)


SERVICE_KEYS = ["command", "port", "working_dir", "env", "restart", "retries",
                "backoff", "ready_timeout", "stop_timeout"]  # fmt: skip
service = table(SERVICE_KEYS, required=("command",))
service_name = mostly(
    st.sampled_from(["web", "api", "db"]), st.sampled_from(["Web", "../x", "a;b"])
)
named_service = st.builds(lambda name, svc: {"name": name, **svc}, service_name, service)
services = mostly(
    st.one_of(
        st.dictionaries(service_name, service, max_size=3),
        st.lists(named_service, max_size=3),
    ),
    junk,
)
plausible = st.fixed_dictionaries(
    {},
    optional={
        "colony": table(["name", "description", "environment"]),
        "services": services,
        "setup": mostly(table(["commands", "command"]), value),
        "build": mostly(table(["commands", "command"]), value),
        "terminal": mostly(table(["command"]), value),
        "limits": table(["cpu", "memory", "swap", "pids", "io_weight"]),
        "sandbox": mostly(table(["level", "user", "hide"]), value),
        "network": mostly(table(["egress", "allow", "expose_to"]), value),
        "agent": mostly(table(["preset", "command"]), value),
        "check": mostly(table(["command"]), value),
    },
)
anything = st.one_of(plausible, st.dictionaries(keys, junk, max_size=6), junk)


def assert_parsed_or_one_line_error(parse: Callable[[], object], source: str = SOURCE) -> Any:
    """Call ``parse``: a result with one-line warnings, or a one-line ConfigError, nothing else."""
    try:
        cfg = parse()
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{source}: "), message
        assert len(message.splitlines()) == 1, message
        assert len(message) < 400, message
        return None
    for warning in getattr(cfg, "warnings", ()):
        assert warning.startswith(f"{source}: "), warning
        assert len(warning.splitlines()) == 1, warning
    return cfg


def check_invariants(cfg: Config) -> None:
    """What a parsed Config always guarantees to the daemon."""
    names = [s.name for s in cfg.services]
    ports = [s.port for s in cfg.services if s.port is not None]
    assert len(names) == len(set(names))
    assert len(ports) == len(set(ports))
    assert all(1 <= p <= 65535 for p in ports)
    for svc in cfg.services:
        assert svc.command.strip()
        assert svc.working_dir is None or not svc.working_dir.startswith("/")
        assert all(isinstance(v, str) for v in svc.env.values())
    for number in (cfg.limits.cpu, cfg.limits.memory, cfg.limits.pids):
        assert number is None or (number > 0 and math.isfinite(number))


@FUZZ
@given(anything)
def test_any_data(data):
    """When parse_config gets any nested data, it returns a Config or a one-line ConfigError."""
    cfg = assert_parsed_or_one_line_error(lambda: parse_config(data, SOURCE))
    if cfg is not None:
        check_invariants(cfg)


def toml_str(text: str) -> str:
    """A TOML basic string: JSON's escapes, minus its surrogate pairs, plus DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: object) -> str:
    """An inline TOML rendering of ``value`` (may be invalid TOML; that is fine here)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if value is None:
        return '""'
    if isinstance(value, str):
        return toml_str(value)
    return json.dumps(value) if not isinstance(value, int) or abs(value) < 10**4000 else "1"


def toml_text(data: dict[str, object]) -> str:
    return "\n".join(f"{toml_str(k)} = {toml_value(v)}" for k, v in data.items()) + "\n"


@LIGHT
@given(plausible, st.lists(st.tuples(st.integers(0, 10**6), st.text(max_size=3)), max_size=3))
def test_any_text(data, edits):
    """When parse_config_text gets TOML-ish text, mangled or not, it never raises anything else."""
    text = toml_text(data)
    for position, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at:]
    cfg = assert_parsed_or_one_line_error(lambda: parse_config_text(text, SOURCE))
    if cfg is not None:
        check_invariants(cfg)


@LIGHT
@given(st.text(max_size=200))
def test_random_text(text):
    """When parse_config_text gets random text, it returns a Config or a one-line ConfigError."""
    assert_parsed_or_one_line_error(lambda: parse_config_text(text, SOURCE))


limit_values = st.one_of(
    st.sampled_from(["1G", "512M", "1.5", "64", "0", "-1", "lots", "1e9", " 2G "]),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
)
limit_keys = st.one_of(st.sampled_from(["cpu", "memory", "swap", "pids", "io_weight"]), st.text())


@LIGHT
@given(st.dictionaries(limit_keys, limit_values, max_size=4), st.one_of(st.none(), st.text()))
def test_any_flags(limits, sandbox):
    """When --limit and --sandbox carry anything, merging gives a Config or a one-line error."""
    try:
        merged = merge_overrides(Config(source=SOURCE), limits=limits, sandbox=sandbox)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(("--limit", "--sandbox")), message
        assert len(message.splitlines()) == 1, message
    else:
        assert merged.sandbox.level in ("none", "basic", "moderate", "strict")


@LIGHT
@given(st.dictionaries(limit_keys, limit_values, max_size=4))
def test_parse_limits_from_a_file(limits):
    """When parse_limits gets any table for a file, errors are one line naming the file."""
    assert_parsed_or_one_line_error(lambda: parse_limits(limits, SOURCE))
