"""colony.toml parsing: every accepted form, every validation rule, warnings, CLI overrides."""

import re
from dataclasses import replace

import pytest

from colony.core.config import (
    EMPTY,
    Config,
    Limits,
    Sandbox,
    ServiceSpec,
    merge_overrides,
    parse_config,
    parse_config_text,
    parse_limits,
    render_default_config,
)
from colony.errors import ConfigError

SPEC_EXAMPLE = """
[colony]
name = "shop"
description = "web shop"

[colony.environment]
python_version = "3.11"
node_version = "20"

[setup]
commands = ["pip install -r requirements.txt"]

[build]
commands = ["npm run build"]

[services.web]
command = "npm run dev -- --port 3000"
port = 3000
working_dir = "frontend"
env = { NODE_ENV = "development" }
restart = "on-failure"

[terminal]
command = "bash"

[limits]
cpu = 1.5
memory = "2G"
pids = 512

[sandbox]
level = "basic"

[network]
egress = "allow"
allow = ["pypi.org:443", "10.1.2.0/24"]

[agent]
preset = "claude"

[check]
command = "pytest -q"
"""


def error_of(data: object, source: str = "colony.toml") -> str:
    """The message parse_config raises for ``data`` (which must be rejected)."""
    with pytest.raises(ConfigError) as info:
        parse_config(data, source)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{source}: ")
    return message


def text_error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config_text(text)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    return message


def web(**fields: object) -> dict[str, object]:
    """A config with one service 'web' made of ``fields`` (command defaulted)."""
    return {"services": {"web": {"command": "run web", **fields}}}


def service_error(**fields: object) -> str:
    return error_of(web(**fields))


# Accepted forms


def test_spec_example():
    """When the SPEC §1 example is read, every section lands in the Config, with no warning."""
    cfg = parse_config_text(SPEC_EXAMPLE)
    assert cfg.name == "shop"
    assert cfg.description == "web shop"
    assert dict(cfg.environment) == {"python_version": "3.11", "node_version": "20"}
    assert cfg.setup == ("pip install -r requirements.txt",)
    assert cfg.build == ("npm run build",)
    assert cfg.services == (
        ServiceSpec(
            name="web",
            command="npm run dev -- --port 3000",
            port=3000,
            working_dir="frontend",
            env={"NODE_ENV": "development"},
            restart="on-failure",
        ),
    )
    assert cfg.terminal == "bash"
    assert cfg.limits == Limits(cpu=1.5, memory=2 * 2**30, pids=512)
    assert cfg.sandbox == Sandbox(level="basic")
    assert cfg.network.egress == "allow"
    assert cfg.network.allow == ("pypi.org:443", "10.1.2.0/24")
    assert cfg.agent.preset == "claude"
    assert cfg.agent.command is None
    assert cfg.check.command == "pytest -q"
    assert cfg.warnings == ()
    assert cfg.source == "colony.toml"


def test_services_table_form():
    """When services are [services.NAME] tables, each becomes a ServiceSpec in file order."""
    cfg = parse_config_text(
        '[services.web]\ncommand = "w"\nport = 3000\n[services.api]\ncommand = "a"\nport = 8000\n'
    )
    assert [(s.name, s.command, s.port) for s in cfg.services] == [
        ("web", "w", 3000),
        ("api", "a", 8000),
    ]


def test_services_array_form():
    """When services are a [[services]] array with name = ..., they read like the table form."""
    cfg = parse_config_text(
        '[[services]]\nname = "web"\ncommand = "w"\nport = 3000\n'
        '[[services]]\nname = "worker"\ncommand = "q"\n'
    )
    assert [(s.name, s.port) for s in cfg.services] == [("web", 3000), ("worker", None)]
    assert cfg.warnings == ()


def test_services_under_colony():
    """When services are [colony.services.NAME] tables, they are read too."""
    cfg = parse_config_text('[colony]\nname = "shop"\n[colony.services.web]\ncommand = "w"\n')
    assert cfg.name == "shop"
    assert cfg.service("web") == ServiceSpec(name="web", command="w")


def test_services_from_both_places():
    """When [services] and [colony.services] both declare services, all of them are kept."""
    cfg = parse_config(
        {
            "services": {"a": {"command": "x"}},
            "colony": {"services": [{"name": "b", "command": "y"}]},
        }
    )
    assert [s.name for s in cfg.services] == ["a", "b"]


def test_service_defaults():
    """When a service gives only a command, the documented defaults apply."""
    svc = parse_config(web()).services[0]
    assert svc == ServiceSpec(name="web", command="run web")
    assert (svc.port, svc.working_dir, dict(svc.env)) == (None, None, {})
    assert (svc.restart, svc.retries, svc.backoff) == ("on-failure", 5, 0.5)
    assert (svc.ready_timeout, svc.stop_timeout) == (30.0, 5.0)


def test_service_all_fields():
    """When a service sets every key, each is read with its type."""
    svc = parse_config(
        web(
            port=5173,
            working_dir="./frontend/",
            env={"A": "1", "PORT": 5173},
            restart="always",
            retries=0,
            backoff=2,
            ready_timeout=90,
            stop_timeout=0.5,
        )
    ).services[0]
    assert svc.working_dir == "frontend"
    assert dict(svc.env) == {"A": "1", "PORT": "5173"}
    assert (svc.restart, svc.retries, svc.backoff) == ("always", 0, 2.0)
    assert (svc.ready_timeout, svc.stop_timeout) == (90.0, 0.5)


def test_service_lookup():
    """When asked for a service by name, Config.service returns it, or None when absent."""
    cfg = parse_config(web())
    assert cfg.service("web") is cfg.services[0]
    assert cfg.service("nope") is None


def test_table_form_name_key_may_repeat_the_table_name():
    """When a [services.web] table also says name = "web", it is accepted."""
    assert parse_config(web(name="web")).services[0].name == "web"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"commands": ["a", "b"]}, ("a", "b")),
        ({"commands": "a"}, ("a",)),
        ({"command": "a"}, ("a",)),
        ({"commands": []}, ()),
        ({}, ()),
        (["a", "b"], ("a", "b")),
        ("a", ("a",)),
    ],
)
def test_setup_and_build_forms(section, expected):
    """When [setup]/[build] give commands, command, or a bare string or array, all are read."""
    cfg = parse_config({"setup": section, "build": section})
    assert cfg.setup == expected
    assert cfg.build == expected


def test_terminal_forms():
    """When the terminal is [terminal] command or terminal = "...", it is read; default bash."""
    assert parse_config({"terminal": {"command": "zsh"}}).terminal == "zsh"
    assert parse_config({"terminal": "fish"}).terminal == "fish"
    assert parse_config({"terminal": {}}).terminal == "bash"
    assert parse_config({}).terminal == "bash"


def test_agent_forms():
    """When [agent] gives a preset or a command with {prompt}, it is read."""
    assert parse_config({"agent": {"preset": "claude"}}).agent.preset == "claude"
    assert parse_config({"agent": "aider"}).agent.preset == "aider"
    command = "my-agent --task {prompt}"
    assert parse_config({"agent": {"command": command}}).agent.command == command


def test_check_forms():
    """When [check] gives a command (or check = "..."), it is read."""
    assert parse_config({"check": {"command": "pytest -q"}}).check.command == "pytest -q"
    assert parse_config({"check": "make test"}).check.command == "make test"


def test_shorthand_sections():
    """When sandbox or network is a bare string, it sets the level or the egress."""
    cfg = parse_config({"sandbox": "strict", "network": "deny"})
    assert cfg.sandbox.level == "strict"
    assert cfg.network.egress == "deny"


def test_empty_config():
    """When there is no file, EMPTY has no services and defaults everywhere."""
    assert EMPTY.services == ()
    assert EMPTY.warnings == ()
    assert EMPTY.name is None
    assert EMPTY.limits == Limits()
    assert EMPTY.sandbox.level == "basic"
    assert EMPTY.network.egress == "allow"
    assert parse_config({}) == replace(EMPTY, source="colony.toml")
    assert parse_config_text("") == parse_config({})


def test_environment_values():
    """When [colony.environment] holds strings or integers, they are kept as strings."""
    cfg = parse_config({"colony": {"environment": {"node_version": 20, "python_version": "3.11"}}})
    assert dict(cfg.environment) == {"node_version": "20", "python_version": "3.11"}


def test_environment_rejects_floats():
    """When a version is a float, it is an error, since 3.10 would read as '3.1'."""
    message = error_of({"colony": {"environment": {"python_version": 3.10}}})
    assert message == "colony.toml: colony.environment.python_version: expected a string, got 3.1"


def test_config_is_frozen():
    """When someone tries to change a Config, it refuses."""
    cfg = parse_config(web())
    with pytest.raises(AttributeError):
        cfg.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.services[0].env["A"] = "b"  # type: ignore[index]


# Service errors


def test_port_not_integer():
    """When a port is a string, the message names the file, key path and the value."""
    assert (
        service_error(port="abc")
        == "colony.toml: services.web.port: expected an integer 1-65535, got 'abc'"
    )


@pytest.mark.parametrize("port", [0, -1, 65536, 70000, True, False, 3000.0, "3000", [3000]])
def test_bad_ports(port):
    """When a port is out of range, a bool, a float or a string, it is rejected."""
    assert "services.web.port: expected an integer 1-65535, got " in service_error(port=port)


def test_preview_ports():
    """When [previews] ports lists ports, they are kept in order, duplicates dropped."""
    cfg = parse_config_text("[previews]\nports = [5173, 9229, 5173]\n")
    assert cfg.previews.ports == (5173, 9229)
    assert parse_config_text("").previews.ports == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ports = [5173, 'abc']", "previews.ports[1]: expected an integer 1-65535, got 'abc'"),
        ("ports = [0]", "previews.ports[0]: expected an integer 1-65535, got 0"),
        ("ports = [true]", "previews.ports[0]: expected an integer 1-65535, got True"),
        (
            "ports = 5173",
            "previews.ports: expected an array of ports such as [5173, 9229], got 5173",
        ),
    ],
)
def test_bad_preview_ports(text, message):
    """When [previews] ports is not an array of ports, the one-line error names the key path."""
    with pytest.raises(ConfigError) as err:
        parse_config_text(f"[previews]\n{text}\n")
    assert str(err.value) == f"colony.toml: {message}"


def test_restart_policy():
    """When restart is not a known policy, the message lists the three choices."""
    assert service_error(restart="sometimes") == (
        "colony.toml: services.web.restart: expected 'always', 'on-failure' or 'never', "
        "got 'sometimes'"
    )


def test_missing_command():
    """When a service has no command, the message says nothing was given."""
    assert error_of({"services": {"web": {"port": 3000}}}) == (
        "colony.toml: services.web.command: expected a non-empty string, got nothing"
    )


@pytest.mark.parametrize("command", ["", "   ", 5, ["npm", "start"], "a\0b", None])
def test_bad_commands(command):
    """When a command is empty, blank, not a string or holds NUL, it is rejected."""
    assert "services.web.command: expected a non-empty string" in service_error(command=command)


def test_duplicate_ports():
    """When two services use one port, the second names the first."""
    data = {
        "services": {"web": {"command": "w", "port": 3000}, "api": {"command": "a", "port": 3000}}
    }
    assert (
        error_of(data)
        == "colony.toml: services.api.port: port 3000 is already used by service 'web'"
    )


def test_duplicate_ports_across_forms():
    """When [colony.services] reuses a port of [services], it is rejected too."""
    data = {
        "services": {"web": {"command": "w", "port": 3000}},
        "colony": {"services": {"api": {"command": "a", "port": 3000}}},
    }
    assert "colony.services.api.port: port 3000 is already used by service 'web'" in error_of(data)


def test_duplicate_names_in_array():
    """When [[services]] declares a name twice, the second entry is rejected."""
    data = {"services": [{"name": "web", "command": "a"}, {"name": "web", "command": "b"}]}
    assert error_of(data) == (
        "colony.toml: services[1].name: service 'web' is already defined at services[0].name"
    )


def test_duplicate_names_across_forms():
    """When [services.web] and [colony.services.web] both exist, it is an error."""
    data = {
        "services": {"web": {"command": "a"}},
        "colony": {"services": {"web": {"command": "b"}}},
    }
    assert "colony.services.web: service 'web' is already defined at services.web" in error_of(data)


def test_array_entry_without_name():
    """When a [[services]] entry has no name, the message points at its index."""
    assert error_of({"services": [{"command": "a"}]}) == (
        "colony.toml: services[0].name: expected a service name, got nothing"
    )


def test_array_entry_not_a_table():
    """When a [[services]] entry is not a table, the message points at its index."""
    assert error_of({"services": [5]}) == "colony.toml: services[0]: expected a table, got 5"


def test_table_name_mismatch():
    """When [services.web] says name = "api", it is an error."""
    assert "services.web.name: expected 'web' (the table's name)" in service_error(name="api")


def test_service_fields_in_array_form_are_named_by_service():
    """When a [[services]] entry has a bad field, the path uses the service's name."""
    message = error_of({"services": [{"name": "web", "command": "w", "port": "x"}]})
    assert message.startswith("colony.toml: services.web.port: ")


@pytest.mark.parametrize("name", ["../x", "a;b", "Web", "-web", "web-", "a b", "web\n", "", "é"])
def test_bad_service_names(name):
    """When a service name is not a DNS label, it is rejected with check_name's message."""
    message = error_of({"services": {name: {"command": "a"}}})
    assert "expected lowercase letters, digits and '-'" in message
    message = error_of({"services": [{"name": name, "command": "a"}]})
    assert message.startswith("colony.toml: services[0].name: expected lowercase letters")


@pytest.mark.parametrize("name", ["../x", "a;b", "x" * 300, 5, "Shop", "shop\n"])
def test_bad_colony_names(name):
    """When [colony] name is not a valid name, the message names colony.name."""
    message = error_of({"colony": {"name": name}})
    assert message.startswith("colony.toml: colony.name: expected lowercase letters, digits")
    assert len(message) < 200


def test_long_values_are_shortened():
    """When a 300-character value is rejected, the message shows only its start and end."""
    message = error_of({"colony": {"name": "x" * 300}})
    assert "x" * 50 not in message
    message = service_error(restart="y" * 300)
    assert "y" * 50 not in message
    assert len(message) < 200


def test_big_values_are_summarised():
    """When a rejected value is a huge integer, a long array or a big table, it is summarised."""
    assert service_error(port=10**5000).endswith("got an integer too long to show")
    assert service_error(port=list(range(100))).endswith("got [0, 1, 2, 3, ...]")
    long_items = ["x" * 30] * 5
    assert service_error(port=long_items).endswith("got an array of 5 items")
    assert service_error(port={f"k{i}": "x" * 30 for i in range(9)}).endswith(
        "got a table of 9 keys"
    )


def test_weird_keys_are_quoted_in_paths():
    """When a key needs quoting, the path shows it quoted and on one line."""
    message = error_of({"services": {"a\nb": {"command": "x"}}})
    assert message.startswith('colony.toml: services."a\\nb": expected lowercase letters')


@pytest.mark.parametrize("directory", ["/srv/app", "..", "../x", "a/../../b", "a/..", "", 5])
def test_bad_working_dirs(directory):
    """When working_dir is absolute, escapes with '..', is empty or not a string, it fails."""
    assert "services.web.working_dir: expected " in service_error(working_dir=directory)


def test_env_value_types():
    """When env holds a bool, a float or a table, it is rejected; integers become strings."""
    assert (
        service_error(env={"DEBUG": True})
        == "colony.toml: services.web.env.DEBUG: expected a string, got True"
    )
    assert "env.RATIO: expected a string, got 0.5" in service_error(env={"RATIO": 0.5})
    assert "env.X: expected a string" in service_error(env={"X": {"y": "z"}})
    assert dict(parse_config(web(env={"N": 3})).services[0].env) == {"N": "3"}


def test_env_names():
    """When an env name is not a variable name, the message says so."""
    assert 'env."A B": expected an environment variable name' in service_error(env={"A B": "x"})
    assert "env: expected a table of strings, got 'A=1'" in service_error(env="A=1")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retries", -1),
        ("retries", 1.5),
        ("retries", True),
        ("backoff", 0),
        ("backoff", 31),
        ("backoff", "1"),
        ("ready_timeout", 0),
        ("ready_timeout", float("inf")),
        ("ready_timeout", float("nan")),
        ("stop_timeout", -1),
        ("stop_timeout", False),
    ],
)
def test_bad_supervision_numbers(key, value):
    """When retries, backoff or the timeouts are out of range or of the wrong type, they fail."""
    assert f"services.web.{key}: expected " in service_error(**{key: value})


# Container types


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"services": 5},
            "services: expected [services.NAME] tables or a [[services]] array, got 5",
        ),
        ({"services": {"web": "npm start"}}, "services.web: expected a table, got 'npm start'"),
        ({"setup": 5}, "setup: expected an array of strings, got 5"),
        ({"setup": {"commands": 5}}, "setup.commands: expected an array of strings, got 5"),
        (
            {"build": {"commands": ["a", 5]}},
            "build.commands[1]: expected a non-empty string, got 5",
        ),
        ({"limits": "2G"}, "limits: expected a table, got '2G'"),
        ({"colony": []}, "colony: expected a table, got []"),
        (
            {"colony": {"environment": "x"}},
            "colony.environment: expected a table of strings, got 'x'",
        ),
        ({"network": {"allow": 5}}, "network.allow: expected an array of strings, got 5"),
        ({"sandbox": {"hide": [""]}}, "sandbox.hide[0]: expected a non-empty string, got ''"),
        ({"agent": 5}, "agent: expected a table, got 5"),
        ({"terminal": {"command": ""}}, "terminal.command: expected a non-empty string, got ''"),
    ],
)
def test_wrong_container_types(data, message):
    """When a value has the wrong container type, the one-line message names its path."""
    assert error_of(data) == f"colony.toml: {message}"


def test_data_not_a_table():
    """When the top level is not a table, the message names just the source."""
    assert error_of([1, 2], "my.toml") == "my.toml: expected a table, got [1, 2]"


def test_setup_command_and_commands():
    """When [setup] sets both command and commands, it is an error."""
    message = error_of({"setup": {"command": "a", "commands": ["b"]}})
    assert message == "colony.toml: setup: expected 'command' or 'commands', got both"


def test_description_must_be_a_string():
    """When description is not a string, it is rejected."""
    assert error_of({"colony": {"description": 5}}) == (
        "colony.toml: colony.description: expected a string, got 5"
    )


# Limits


def test_memory_lots():
    """When memory is not a size, the message gives examples of sizes."""
    assert error_of({"limits": {"memory": "lots"}}) == (
        "colony.toml: limits.memory: expected a size such as 512M or 2G, got 'lots'"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 * 2**20),
        ("2G", 2 * 2**30),
        ("1.5G", 3 * 2**29),
        ("1024", 1024),
        ("128k", 128 * 1024),
        ("128K", 128 * 1024),
        ("512MB", 512 * 2**20),
        ("1GiB", 2**30),
        ("1 G", 2**30),
        ("1T", 2**40),
        (" 64m ", 64 * 2**20),
        (4096, 4096),
    ],
)
def test_sizes(text, size):
    """When memory is a size string or a number of bytes, it is read in bytes (powers of 1024)."""
    assert parse_config({"limits": {"memory": text}}).limits.memory == size


@pytest.mark.parametrize(
    "value", ["lots", "", "G", "-1G", "1e3", "1.5.1G", "0", 0, -5, 1.5, True, "0.1", 2**70, "1X"]
)
def test_bad_sizes(value):
    """When a size is zero, negative, fractional bytes, a float or garbage, it is rejected."""
    assert "limits.memory: expected a size such as 512M or 2G" in error_of(
        {"limits": {"memory": value}}
    )


def test_swap_may_be_zero():
    """When swap is 0, swap is turned off rather than rejected."""
    assert parse_config({"limits": {"swap": 0}}).limits.swap == 0
    assert parse_config({"limits": {"swap": "1G"}}).limits.swap == 2**30
    assert "limits.swap: expected a size" in error_of({"limits": {"swap": -1}})


@pytest.mark.parametrize("cpu", [-1, 0, 0.0, 1025, "abc", True, float("nan"), float("inf"), "-1"])
def test_bad_cpu(cpu):
    """When cpu is not a number of cores in (0, 1024], it is rejected."""
    message = error_of({"limits": {"cpu": cpu}})
    assert message.startswith("colony.toml: limits.cpu: expected a number of cores greater than 0")


def test_good_limits():
    """When every limit is given, each is read; numbers may also be written as strings."""
    limits = parse_config(
        {"limits": {"cpu": 2, "memory": "1G", "swap": "512M", "pids": 64, "io_weight": 100}}
    ).limits
    assert limits == Limits(cpu=2.0, memory=2**30, swap=2**29, pids=64, io_weight=100)
    assert parse_config({"limits": {"cpu": "0.5", "pids": "64"}}).limits == Limits(cpu=0.5, pids=64)


@pytest.mark.parametrize(
    ("key", "value"),
    [("pids", 0), ("pids", 1.5), ("pids", "x"), ("io_weight", 0), ("io_weight", 10001)],
)
def test_bad_integer_limits(key, value):
    """When pids or io_weight is out of range or not an integer, it is rejected."""
    assert f"limits.{key}: expected an integer" in error_of({"limits": {key: value}})


def test_parse_limits_for_a_file():
    """When parse_limits reads a file's table, errors name limits.KEY in that file."""
    assert parse_limits({"memory": "1G", "cpu": 1.5}, "colony.toml") == Limits(
        cpu=1.5, memory=2**30
    )
    with pytest.raises(ConfigError, match=r"^x\.toml: limits\.memory: expected a size"):
        parse_limits({"memory": "lots"}, "x.toml")


def test_parse_limits_for_flags():
    """When parse_limits reads CLI flags, errors name '--limit KEY'."""
    assert parse_limits({"memory": "1G", "cpu": "1.5", "pids": "64"}, "--limit") == Limits(
        cpu=1.5, memory=2**30, pids=64
    )
    with pytest.raises(ConfigError) as info:
        parse_limits({"memory": "lots"}, "--limit")
    assert str(info.value) == "--limit memory: expected a size such as 512M or 2G, got 'lots'"
    with pytest.raises(ConfigError) as info:
        parse_limits({"disks": "1G"}, "--limit")
    assert str(info.value) == (
        "--limit: expected one of cpu, memory, swap, pids, io_weight, disk, got 'disks'"
    )
    assert parse_limits({"disk": "1G"}, "--limit") == Limits(disk=2**30)
    with pytest.raises(ConfigError) as info:
        parse_limits({"disk": "1M"}, "--limit")
    assert str(info.value) == "--limit disk: expected a size such as 512M or 2G, got '1M'"


# Sandbox and network


def test_sandbox_level():
    """When the sandbox level is unknown, the message lists the four levels."""
    assert error_of({"sandbox": {"level": "max"}}) == (
        "colony.toml: sandbox.level: expected 'none', 'basic', 'moderate' or 'strict', got 'max'"
    )


def test_sandbox_fields():
    """When [sandbox] sets user and hide, they are read; a bad user name is rejected."""
    sandbox = parse_config(
        {"sandbox": {"level": "strict", "user": "alice", "hide": ["~/.ssh"]}}
    ).sandbox
    assert sandbox == Sandbox(level="strict", user="alice", hide=("~/.ssh",))
    assert "sandbox.user: expected a user name" in error_of({"sandbox": {"user": "root;rm"}})


def test_egress_choice():
    """When egress is not allow, deny or allowlist, the message names the bad value."""
    message = error_of({"network": {"egress": "maybe"}})
    assert message == (
        "colony.toml: network.egress: expected 'allow', 'deny' or 'allowlist', got 'maybe'"
    )


GOOD_RULES = [
    "pypi.org",
    "pypi.org:443",
    "files.pythonhosted.org.",
    "localhost:8080",
    "10.1.2.0/24",
    "10.1.2.0/24:5432",
    "1.2.3.4",
    "1.2.3.4:443",
    "2001:db8::/32",
    "::1",
    "[::1]:443",
    "xn--bcher-kva.example",
    "*.example.com",
    "*.pythonhosted.org:443",
]
BAD_RULES = [
    "999.1.1.1",
    "999.1.1.1:80",
    "1.2.3.256",
    "pypi.org:70000",
    "pypi.org:0",
    "pypi.org:",
    "pypi.org:https",
    ":443",
    "10.1.2.0/33",
    "10.1.2.5/24",
    "300.0.0.0/8",
    "10.0.0.0/8:99999",
    "-bad.example",
    "bad-.example",
    "exa mple.com",
    "a.*.example.com",
    "*",
    "",
    "http://pypi.org",
    "[::1]:70000",
    "[pypi.org]:443",
    "pypi.org\n",
    "a" * 64 + ".com",
    "1.2.3",
]


@pytest.mark.parametrize("rule", GOOD_RULES)
def test_good_allow_rules(rule):
    """When an allow entry is a host, host:port, IP, [v6]:port or CIDR, it is accepted."""
    assert parse_config({"network": {"egress": "allowlist", "allow": [rule]}}).network.allow == (
        rule,
    )


@pytest.mark.parametrize("rule", BAD_RULES)
def test_bad_allow_rules(rule):
    """When an allow entry is a bad IP, a bad port or not a DNS name, it is rejected."""
    message = error_of({"network": {"allow": ["pypi.org", rule]}})
    assert message.startswith(
        "colony.toml: network.allow[1]: expected 'host', '*.host', 'host:port'"
    )


def test_allow_single_string():
    """When allow is a single string, it counts as a one-entry list."""
    assert parse_config({"network": {"allow": "pypi.org:443"}}).network.allow == ("pypi.org:443",)


@pytest.mark.parametrize("entry", ["web:3000", "api:db", "a1:65535"])
def test_good_expose_to(entry):
    """When expose_to names 'colony:port' or 'colony:service', it is accepted."""
    assert parse_config({"network": {"expose_to": [entry]}}).network.expose_to == (entry,)


@pytest.mark.parametrize(
    "entry", ["web", "Web:3000", "web:70000", "web:0", "web:", ":3000", "a:b:c"]
)
def test_bad_expose_to(entry):
    """When an expose_to entry is not 'colony:port' or 'colony:service', it is rejected."""
    message = error_of({"network": {"expose_to": [entry]}})
    assert message.startswith("colony.toml: network.expose_to[0]: expected 'colony:port' or")


# Agent and check


def test_agent_command_needs_prompt():
    """When the agent command has no {prompt}, it is rejected."""
    assert error_of({"agent": {"command": "my-agent"}}) == (
        "colony.toml: agent.command: expected a command containing '{prompt}', got 'my-agent'"
    )


def test_agent_preset_and_command():
    """When [agent] sets both preset and command, it is an error."""
    message = error_of({"agent": {"preset": "claude", "command": "x {prompt}"}})
    assert message == "colony.toml: agent: expected 'preset' or 'command', got both"


def test_agent_bad_preset():
    """When the preset is not a name, it is rejected."""
    assert "agent.preset: expected a preset name" in error_of({"agent": {"preset": "Claude Code"}})


# Warnings


def test_unknown_keys_are_warnings():
    """When keys are unknown at any level, each becomes one warning and parsing goes on."""
    cfg = parse_config(
        {
            "colony": {"name": "shop", "colour": "red"},
            "extra": 1,
            "services": {"web": {"command": "w", "prot": 3000}},
            "limits": {"disc": "1G"},
            "sandbox": {"levle": "strict"},
            "network": {"egres": "deny"},
            "setup": {"cmds": ["a"]},
            "agent": {"model": "x"},
            "check": {"commands": ["x"]},
            "terminal": {"shell": "zsh"},
        }
    )
    assert cfg.warnings == (
        "colony.toml: extra: unknown key, ignored",
        "colony.toml: colony.colour: unknown key, ignored",
        "colony.toml: services.web.prot: unknown key, ignored (did you mean 'port'?)",
        "colony.toml: setup.cmds: unknown key, ignored",
        "colony.toml: terminal.shell: unknown key, ignored",
        "colony.toml: limits.disc: unknown key, ignored (did you mean 'disk'?)",
        "colony.toml: sandbox.levle: unknown key, ignored (did you mean 'level'?)",
        "colony.toml: network.egres: unknown key, ignored (did you mean 'egress'?)",
        "colony.toml: agent.model: unknown key, ignored",
        "colony.toml: check.commands: unknown key, ignored (did you mean 'command'?)",
    )
    assert cfg.name == "shop"
    assert cfg.service("web") is not None
    assert cfg.service("web").port is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("toml", "warning"),
    [
        (
            '[services.web]\ncommand = "x"\nrestrat = "never"\n',
            "colony.toml: services.web.restrat: unknown key, ignored (did you mean 'restart'?)",
        ),
        (
            '[setup]\ncomands = ["make"]\n',
            "colony.toml: setup.comands: unknown key, ignored (did you mean 'commands'?)",
        ),
        (
            '[service.web]\ncommand = "x"\n',
            "colony.toml: service: unknown key, ignored (did you mean 'services'?)",
        ),
    ],
)
def test_misspelt_keys_suggest_the_known_key(toml: str, warning: str) -> None:
    """When a key is a typo of a known key of its table, the warning names that key."""
    assert parse_config_text(toml).warnings[0] == warning


def test_misspelt_services_section_warns_that_nothing_runs() -> None:
    """When a file declares an unknown table and no service, a warning says the colony runs
    none and how services are declared."""
    cfg = parse_config_text('[service.web]\ncommand = "x"\nport = 3000\n')
    assert cfg.services == ()
    assert cfg.warnings[-1] == (
        "colony.toml: no services: the colony runs none ([service] ignored; "
        "services are [services.NAME] tables)"
    )
    assert len(parse_config_text("[setup]\ncommands = []\n").warnings) == 0


def test_misspelt_command_of_a_service_is_named_in_the_error() -> None:
    """When a service's 'command' is misspelt, the error says which key was meant."""
    with pytest.raises(ConfigError, match="'comands' is not a key: did you mean 'command'"):
        parse_config_text('[services.web]\ncomands = "x"\n')


def test_unknown_key_in_array_service():
    """When a [[services]] entry has an unknown key, the warning points at its index."""
    cfg = parse_config(
        {"services": [{"name": "web", "command": "w", "colour": 1}]}, "repo/colony.toml"
    )
    assert cfg.warnings == ("repo/colony.toml: services[0].colour: unknown key, ignored",)


def test_weird_unknown_key_is_one_line():
    """When an unknown key holds a newline or is very long, its warning stays one short line."""
    cfg = parse_config({"a\nb": 1, "k" * 300: 2})
    assert cfg.warnings[0] == 'colony.toml: "a\\nb": unknown key, ignored'
    assert all("\n" not in w and len(w) < 120 for w in cfg.warnings)


# TOML text


def test_toml_syntax_error():
    """When the TOML is malformed, the message gives the line and column on one line."""
    message = text_error_of('[colony]\nname = "x"\nport = \n')
    assert re.fullmatch(r"colony\.toml: line 3, column \d+: invalid value", message), message


def test_toml_error_at_end():
    """When the TOML ends early, the message says so."""
    message = text_error_of('name = "x')
    assert message.startswith("colony.toml: end of file: ")


def test_toml_duplicate_table():
    """When a table is declared twice, tomllib's message comes through with the line."""
    assert text_error_of("[a]\n[a]\n").startswith("colony.toml: line 2, column ")


def test_toml_error_uses_source():
    """When the file has another name, syntax errors carry that name."""
    with pytest.raises(ConfigError, match=r"^/repo/colony\.toml: line 1, column "):
        parse_config_text("=", "/repo/colony.toml")


def test_toml_integer_too_long():
    """When an integer literal is too long for Python, it is a one-line ConfigError."""
    assert text_error_of("a = " + "1" * 5000).startswith("colony.toml: ")


def test_toml_nested_too_deeply():
    """When arrays are nested thousands deep, it is a ConfigError, not a RecursionError."""
    assert text_error_of("a = " + "[" * 5000 + "]" * 5000) == (
        "colony.toml: arrays or tables nested too deeply"
    )


def test_text_errors_carry_paths():
    """When valid TOML holds a bad value, the message is the key-path one."""
    assert text_error_of('[services.web]\ncommand = "x"\nport = "abc"\n') == (
        "colony.toml: services.web.port: expected an integer 1-65535, got 'abc'"
    )


# Overrides


def test_merge_limits():
    """When --limit flags are given, they win over the file per key; other keys stay."""
    cfg = parse_config({"limits": {"memory": "2G", "pids": 512}})
    merged = merge_overrides(cfg, limits={"memory": "1G", "cpu": "1.5"})
    assert merged.limits == Limits(cpu=1.5, memory=2**30, pids=512)
    assert cfg.limits.memory == 2 * 2**30  # the original is untouched


def test_merge_sandbox():
    """When --sandbox is given, it replaces the level and keeps the rest of [sandbox]."""
    cfg = parse_config({"sandbox": {"level": "basic", "user": "alice"}})
    assert merge_overrides(cfg, sandbox="strict").sandbox == Sandbox(level="strict", user="alice")


def test_merge_nothing():
    """When no flags are given, the config comes back unchanged."""
    cfg = parse_config(web())
    assert merge_overrides(cfg) is cfg
    assert merge_overrides(cfg, limits={}) is cfg


def test_merge_errors_name_flags():
    """When a flag is bad, the message names the flag, not the file."""
    with pytest.raises(ConfigError) as info:
        merge_overrides(EMPTY, limits={"memory": "lots"})
    assert str(info.value) == "--limit memory: expected a size such as 512M or 2G, got 'lots'"
    with pytest.raises(ConfigError) as info:
        merge_overrides(EMPTY, sandbox="max")
    assert str(info.value) == (
        "--sandbox: expected 'none', 'basic', 'moderate' or 'strict', got 'max'"
    )
    with pytest.raises(ConfigError, match=r"^--limit cpu: expected a number of cores"):
        merge_overrides(EMPTY, limits={"cpu": "-1"})


def test_merge_on_empty():
    """When there is no file, flags apply to the defaults."""
    merged = merge_overrides(EMPTY, limits={"pids": "64"}, sandbox="none")
    assert merged.limits == Limits(pids=64)
    assert merged.sandbox.level == "none"
    assert isinstance(merged, Config)


# Default config


def test_default_config_round_trip():
    """When `colony init` renders a config, it parses back without a warning."""
    cfg = parse_config_text(render_default_config("shop"))
    assert cfg.warnings == ()
    assert cfg.name == "shop"
    assert cfg.services == ()
    assert (cfg.terminal, cfg.sandbox.level, cfg.network.egress) == ("bash", "basic", "allow")


def test_default_config_examples_are_valid():
    """When every commented example line is uncommented, the file still parses cleanly."""
    lines = render_default_config("shop").splitlines()
    example = re.compile(r"# (\[[A-Za-z_.]+\]|[a-z_]+ = .*)")
    text = "\n".join(m[1] if (m := example.match(line)) else line for line in lines)
    assert text.count("[services.web]") == 1
    cfg = parse_config_text(text)
    assert cfg.warnings == ()
    assert cfg.service("web") is not None
    assert cfg.limits.memory == 2 * 2**30
    assert cfg.agent.preset == "claude"
    assert cfg.check.command == "pytest -q"
    assert [s.key for s in cfg.secrets] == ["GITHUB_TOKEN"]


@pytest.mark.parametrize("name", ["Shop", "../x", "a\nb", ""])
def test_default_config_bad_name(name):
    """When `colony init` gets a bad name, it raises ConfigError instead of writing bad TOML."""
    with pytest.raises(ConfigError, match="expected lowercase letters"):
        render_default_config(name)
