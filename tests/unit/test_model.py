"""Names, slots and lifecycle rules of the pure core."""

from __future__ import annotations

import ipaddress

import pytest

from colony.core import lifecycle
from colony.core.env import plan_env
from colony.core.model import (
    ServiceState,
    Slot,
    State,
    check_name,
    check_prefix,
    plan_index,
    pool_capacity,
)
from colony.errors import ConfigError, Conflict

POOL = ipaddress.IPv4Network("10.213.0.0/16")


@pytest.mark.parametrize("name", ["web", "a", "shop-2", "x" * 63])
def test_good_names(name: str) -> None:
    """When a name is a DNS label of lowercase letters, digits and '-', it is accepted."""
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["../x", "a;b", "x" * 300, "-a", "a-", "Web", "", "a b", 5])
def test_bad_names(name: object) -> None:
    """When a name could escape a path, a shell or a DNS label, it is refused in one line."""
    with pytest.raises(ConfigError) as exc:
        check_name(name)
    assert "\n" not in str(exc.value)
    assert len(str(exc.value)) < 200


def test_slot_names_and_addresses() -> None:
    """When a colony has slot 3, its names carry the prefix and its /30 is the fourth."""
    slot = Slot("colony", "web", 3, POOL)
    assert (slot.netns, slot.veth, slot.table, slot.cgroup) == (
        "colony-web",
        "colonyh3",
        "colony-web",
        "colony/web",
    )
    assert (str(slot.subnet), slot.host_ip, slot.colony_ip) == (
        "10.213.0.12/30",
        "10.213.0.13",
        "10.213.0.14",
    )


def test_prefix_must_fit_interface_names() -> None:
    """When prefix and pool would make interface names over 15 characters, it is refused."""
    check_prefix("ct-12345678", ipaddress.IPv4Network("10.213.1.0/24"))
    with pytest.raises(ConfigError, match="15"):
        check_prefix("ct-12345678", POOL)


def test_plan_index_takes_smallest_free_and_reports_full() -> None:
    """When slots are taken, the smallest free one is used; a full pool is a conflict."""
    small = ipaddress.IPv4Network("10.0.0.0/29")
    assert pool_capacity(small) == 1
    assert plan_index(set(), small) == 1
    with pytest.raises(Conflict, match="full"):
        plan_index({1}, small)


def test_lifecycle_rules() -> None:
    """When a request does not fit the state, it is a conflict with a hint."""
    assert lifecycle.check_start("w", State.STOPPED) is True
    assert lifecycle.check_start("w", State.RUNNING) is False  # idempotent, like stop
    with pytest.raises(Conflict, match="once stopped"):
        lifecycle.check_start("w", State.STOPPING)
    with pytest.raises(Conflict) as exc:
        lifecycle.check_remove("w", State.RUNNING, force=False)
    assert exc.value.hint == "run 'colony stop w' or 'colony rm --force w'"
    lifecycle.check_remove("w", State.RUNNING, force=True)
    lifecycle.check_spawn("w", None)
    with pytest.raises(Conflict, match="already exists"):
        lifecycle.check_spawn("w", State.STOPPED)
    assert lifecycle.check_stop("w", State.STOPPED) is False


def test_spawn_refuses_a_failed_or_trashed_name() -> None:
    """When the name belongs to a failed colony or a trash entry, spawn is refused with the
    commands that free it (issue 12)."""
    with pytest.raises(Conflict, match=r"already exists \(failed\)") as failed:
        lifecycle.check_spawn("w", State.FAILED)
    assert failed.value.hint is not None
    assert "colony trash purge w" in failed.value.hint
    with pytest.raises(Conflict, match=r"is in the trash \(entry 4, 7\)") as trashed:
        lifecycle.check_spawn("w", None, [4, 7])
    assert trashed.value.hint is not None
    assert "colony trash restore w" in trashed.value.hint


def test_a_running_colony_with_a_fatal_service_is_degraded() -> None:
    """When a service gave up while the colony runs, the colony is degraded; it stays
    running underneath, and is not degraded once it stops (issue 12)."""
    services = {"web": ServiceState.FATAL, "db": ServiceState.RUNNING, "a": ServiceState.FATAL}
    assert lifecycle.plan_degraded(State.RUNNING, services) == ("a", "web")
    assert lifecycle.plan_degraded(State.STOPPING, services) == ()
    assert lifecycle.plan_degraded(State.RUNNING, {"db": ServiceState.BACKOFF}) == ()
    assert lifecycle.shown_state("running", ["web"]) == "degraded"
    assert lifecycle.shown_state("running", []) == "running"
    assert lifecycle.shown_state("stopped", ["web"]) == "stopped"


def test_env_keeps_host_secrets_out() -> None:
    """When the daemon's environment holds other variables, only the passthrough ones reach
    a colony, next to the colony's own; PATH is the fixed one, never the daemon's."""
    env = plan_env(
        host_env={"PATH": "/root/.pyenv/shims", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "LANG": "C"},
        own={"HOME": "/st/colonies/web/home"},
        name="web",
        data_dir="/d",
        db="/d/c.db",
        address="10.0.0.2",
        ports=[("web-ui", 3000)],
    )
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert (env["LANG"], env["HOME"]) == ("C", "/st/colonies/web/home")
    assert env["COLONY_PORT_WEB_UI"] == "3000"
    assert "PORT" not in env
