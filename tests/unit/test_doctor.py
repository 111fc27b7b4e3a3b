"""The security checklist's judgement: one call, one assert."""

from __future__ import annotations

from dataclasses import replace

from colony.cli.doctor import format_checks
from colony.contract_responses import Check
from colony.core.doctor import Facts, plan_checks

GOOD = Facts(
    daemon_uid=0,
    socket_mode=0o600,
    ip_forward=True,
    pool="10.213.0.0/16",
    unreachable_route=True,
    nft=True,
    host_guard=True,
    colonies=("web",),
    tables=("web",),
    cgroup_versions={"cpu": 1, "memory": 1, "pids": 1},
    bubblewrap=True,
    userns=True,
    audit_ok=True,
    audit_detail="audit log verified: 3 entries",
    http="http://127.0.0.1:8000",
)


def statuses(facts: Facts) -> dict[str, str]:
    return {c.name: c.status for c in plan_checks(facts)}


def test_a_good_installation_has_no_failure() -> None:
    """When everything is in place, nothing fails (TLS is only a warning: not built yet)."""
    got = statuses(GOOD)
    assert {n for n, s in got.items() if s != "ok"} == {"tls"}


def test_each_gap_is_named_with_a_fix() -> None:
    """When the socket is open, a table is missing and a colony runs as root, each fails and
    says what to do."""
    bad = replace(GOOD, socket_mode=0o666, tables=(), as_root=("web",), unlimited=("web",))
    checks = {c.name: c for c in plan_checks(bad)}
    assert checks["api socket"].status == "fail"
    assert checks["firewall"].detail == "no nft table for web"
    assert checks["colony users"].status == "fail"
    assert checks["limits"].status == "warn"
    unguarded = {c.name: c for c in plan_checks(replace(GOOD, host_guard=False))}
    assert unguarded["colony addresses"].status == "fail"
    assert all(c.hint for c in checks.values() if c.status != "ok")


def test_broken_audit_log_fails() -> None:
    """When the audit log does not verify, the audit check fails with the entry."""
    bad = replace(GOOD, audit_ok=False, audit_detail="audit log does not verify at entry 7")
    assert statuses(bad)["audit"] == "fail"


def test_format_shows_fix_under_problems() -> None:
    """When a check is not ok, its fix is printed under it."""
    text = format_checks(
        [
            Check(name="api socket", status="fail", detail="mode 666", hint="restart"),
            Check(name="nft", status="ok", detail="fine", hint=None),
        ]
    ).plain
    assert text.splitlines() == [
        "FAIL  api socket  mode 666",
        "                  fix: restart",
        "ok    nft         fine",
    ]


def test_live_colony_problems_fail_with_what_is_wrong() -> None:
    """When a colony shares a uid, a process lacks no_new_privs or sees the host's mounts, or
    a state file is readable by others, each check fails and names it."""
    facts = replace(
        GOOD,
        identities=("b: shares uid 1900000001 with a",),
        views=("a: pid 42 sees the host's mounts",),
        state_files=("/var/lib/colony/mycelium.db mode 0644",),
    )
    checks = {c.name: c for c in plan_checks(facts)}
    assert checks["colony identities"].status == "fail"
    assert "shares uid" in checks["colony identities"].detail
    assert checks["colony views"].detail == "a: pid 42 sees the host's mounts"
    assert checks["state files"].hint is not None


def test_missing_disks_are_a_warning_with_the_fix() -> None:
    """When the host has no loop devices, or a running colony with a disk limit has no disk
    mounted, the disks check warns and names the colony; otherwise it is ok."""
    checks = {c.name: c for c in plan_checks(GOOD)}
    assert checks["colony disks"].status == "ok"
    checks = {c.name: c for c in plan_checks(replace(GOOD, disks=False))}
    assert checks["colony disks"].status == "warn"
    assert "loop devices" in checks["colony disks"].detail
    checks = {c.name: c for c in plan_checks(replace(GOOD, no_disk=("web",)))}
    assert checks["colony disks"].detail == "no disk mounted for: web"
    assert checks["colony disks"].hint is not None


def test_the_socket_is_roots_and_the_groups_and_admins_are_named() -> None:
    """When the socket is root:colony 0660 it is fine, with any other group or more bits it
    fails; members of colony-admin are a warning naming them (issue 14)."""
    shared = replace(GOOD, socket_mode=0o660, socket_group="colony")
    assert statuses(shared)["api socket"] == "ok"
    for mode, group in ((0o660, "users"), (0o666, "colony"), (0o660, None)):
        check = {
            c.name: c for c in plan_checks(replace(GOOD, socket_mode=mode, socket_group=group))
        }
        assert check["api socket"].status == "fail"
        assert f"mode {mode:o}" in check["api socket"].detail
    assert statuses(GOOD)["admins"] == "ok"
    admins = {c.name: c for c in plan_checks(replace(GOOD, admins=("alice", "bob")))}["admins"]
    assert admins.status == "warn"
    assert admins.detail == "alice, bob may act on every colony (group colony-admin)"
    assert admins.hint == "if that is not meant: gpasswd -d USER colony-admin"
