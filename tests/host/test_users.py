"""Multi-user (issue 14), played by real users of the machine: alice and bob, members of the
group colony, use the installed `colony` as themselves against one Mycelium. Each sees and
acts on only what is theirs or shared with them; root sees everything; the audit log names
who did what."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import new_prefix, passable, scratch_dir
from tests.host.conftest import (
    Daemon,
    Installed,
    User,
    make_people,
    own_repo,
    remove_people,
    run_as,
    running_daemon,
    wait_state,
)


@pytest.fixture
def people(installed: Installed, daemon: Daemon) -> Iterator[dict[str, User]]:
    """alice and bob (made here, removed afterwards)."""
    found = make_people(installed, daemon)
    try:
        yield found
    finally:
        remove_people(found)


def test_each_user_sees_and_runs_only_their_own_until_shared(
    people: dict[str, User], daemon: Daemon, tmp_path: Path
) -> None:
    """When alice and bob each spawn a colony, neither sees, stops, runs commands in or
    removes the other's: each refusal is one error line naming who to ask. Shared as viewer,
    bob sees alice's colony and its logs but cannot exec; as operator he can, and still
    cannot remove it. Root sees both, and the audit log names alice and bob."""
    alice, bob = people["alice"], people["bob"]
    passable(tmp_path)
    scratch = scratch_dir(new_prefix() + "-repos")
    try:
        a_repo, b_repo = own_repo(alice, scratch / "a"), own_repo(bob, scratch / "b")
        a_web, b_web = f"{alice.name}-web", f"{bob.name}-web"
        alice.ok("spawn", a_web, "--repo", str(a_repo))
        bob.ok("spawn", b_web, "--repo", str(b_repo))
        assert alice.names() == [a_web]
        assert bob.names() == [b_web]
        assert client_names(daemon) == sorted([a_web, b_web])  # root: an admin

        for argv, verb in (
            (("stop", a_web), "stop or start"),
            (("exec", a_web, "--", "true"), "run commands in"),
            (("rm", "--force", a_web), "remove"),
            (("logs", a_web), "see"),
            (("share", a_web, "--with", bob.name), "share"),
        ):
            done = bob.run(*argv)
            assert done.returncode == 1, (argv, done.stdout, done.stderr)
            assert done.stderr.splitlines()[0] == (
                f"error: {bob.name} may not {verb} colony '{a_web}'"
            ), argv
            assert f"ask {alice.name}" in done.stderr or "only" in done.stderr
        assert wait_state(daemon.client, a_web, "running").state == "running"

        # Shared as viewer: seen, logs readable, no exec.
        alice.ok("share", a_web, "--with", bob.name)
        assert sorted(bob.names()) == sorted([a_web, b_web])
        assert bob.run("logs", a_web).returncode == 0
        done = bob.run("exec", a_web, "--", "true")
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            f"error: {bob.name} may not run commands in colony '{a_web}' (a viewer of it)",
            f"hint: ask {alice.name} or an admin: colony share {a_web} --with {bob.name} "
            "--role operator",
        ]
        # Operator: exec works, rm does not.
        alice.ok("share", a_web, "--with", bob.name, "--role", "operator")
        assert bob.ok("exec", a_web, "--", "echo", "in") == "in\n"
        assert bob.run("rm", "--force", a_web).returncode == 1
        # Bad input: one line, nothing changed.
        done = alice.run("share", a_web, "--with", "no-such-user-x")
        assert done.returncode == 1
        assert (
            done.stderr.splitlines()[0]
            == "error: user: 'no-such-user-x' is not a user of this machine"
        )
        done = alice.run("share", a_web, "--with", bob.name, "--role", "admin")
        assert done.returncode == 1
        assert "expected viewer or operator" in done.stderr
        shares = json.loads(alice.ok("share", a_web, "--json"))["shares"]
        assert shares == [{"user": bob.name, "role": "operator"}]
        alice.ok("unshare", a_web, "--with", bob.name)
        assert bob.names() == [b_web]

        assert daemon.client is not None
        entries = daemon.client.audit(colony=a_web, limit=0).entries
        users = {e.user for e in entries}
        assert {alice.name, bob.name} <= users, users
        assert any(e.user == bob.name and e.msg.startswith(f"{a_web}: exec") for e in entries)
        mine = json.loads(bob.ok("audit", "--json"))
        assert any(e.get("colony") == b_web for e in mine)
        assert {e.get("colony") for e in mine} <= {b_web, None}
    finally:
        for name in client_names(daemon):
            assert daemon.client is not None
            daemon.client.remove(name, force=True)
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def test_a_users_event_stream_carries_only_what_they_see(
    people: dict[str, User], installed: Installed, daemon: Daemon, tmp_path: Path
) -> None:
    """When alice restarts her colony, her own /events stream carries its events and bob's
    carries none of them."""
    alice, bob = people["alice"], people["bob"]
    scratch = scratch_dir(new_prefix() + "-repos")
    try:
        a_web = f"{alice.name}-web"
        alice.ok("spawn", a_web, "--repo", str(own_repo(alice, scratch / "a")))
        watchers = {u.name: watch_events(installed, u) for u in (alice, bob)}
        for proc in watchers.values():
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        alice.ok("restart", a_web)
        seen = {}
        for name, proc in watchers.items():
            out, _ = proc.communicate(timeout=30)
            seen[name] = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert any(e.get("colony") == a_web for e in seen[alice.name]), seen[alice.name]
        assert seen[bob.name] == []
    finally:
        assert daemon.client is not None
        for name in client_names(daemon):
            daemon.client.remove(name, force=True)
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def test_a_user_cannot_spawn_from_someone_elses_repository(
    people: dict[str, User], daemon: Daemon
) -> None:
    """When bob names a repository (or a colony.toml) of alice's, Mycelium, which reads it as
    root, refuses, and nothing is made."""
    alice, bob = people["alice"], people["bob"]
    scratch = scratch_dir(new_prefix() + "-repos")
    try:
        repo = own_repo(alice, scratch / "a")
        os.chmod(repo, 0o755)
        done = bob.run("spawn", "stolen", "--repo", str(repo))
        assert done.returncode == 1
        assert done.stderr.splitlines()[0] == (
            f"error: repository {repo} is not {bob.name}'s (it belongs to {alice.name})"
        )
        assert client_names(daemon) == []
    finally:
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def client_names(daemon: Daemon) -> list[str]:
    assert daemon.client is not None
    return sorted(c.name for c in daemon.client.colonies().colonies)


WATCH = """
import json, sys, time
from colony.client import Client
with Client(sys.argv[1]) as client, client.events() as events:
    print("ready", flush=True)
    end = time.monotonic() + 6
    while time.monotonic() < end:
        event = events.recv(timeout=max(0.1, end - time.monotonic()))
        if event is not None:
            print(json.dumps(event), flush=True)
"""


def watch_events(installed: Installed, user: User) -> subprocess.Popen[str]:
    """``user``'s /events stream for six seconds, one JSON event per line after 'ready'."""
    python = installed.prefix / "bin" / "python"
    return subprocess.Popen(
        ["runuser", "-u", user.name, "--", str(python), "-c", WATCH, str(user.socket)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip


def curl(user: str, url: str, *extra: str) -> tuple[str, str]:
    """(status, body) of GET ``url`` by a process of ``user`` (the kernel's proof)."""
    done = run_as(user, "curl", "-s", "-w", "\n%{http_code}", *extra, url)
    body, _, status = done.stdout.rpartition("\n")
    return status, body


def test_previews_open_for_who_may_see_the_colony_or_holds_its_link(
    installed: Installed, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """With --preview-auth users, alice's preview answers alice and root, and refuses bob
    with a page saying whom to ask; the link `colony url` gives alice lets bob in once it
    set its cookie; shared with bob, it opens for him without a link."""
    with running_daemon(tmp_path, request, "--preview-auth", "users") as daemon:
        users = make_people(installed, daemon)
        try:
            alice, bob = users["alice"], users["bob"]
            scratch = scratch_dir(new_prefix() + "-repos")
            a_web = f"{alice.name}-web"
            alice.ok("spawn", a_web, "--repo", str(own_repo(alice, scratch / "a")))
            assert daemon.client is not None
            plain = daemon.client.urls(a_web).urls["web"].split("?")[0]
            assert curl("root", plain)[0] == "200"
            assert curl(alice.name, plain)[0] == "200"
            status, page = curl(bob.name, plain)
            assert status == "403"
            assert f"{bob.name} may not open the preview of colony &#x27;{a_web}&#x27;" in page
            assert f"colony share {a_web} --with {bob.name}" in page

            link = json.loads(alice.ok("url", a_web, "--json"))["urls"]["web"]
            assert "?colony_token=" in link
            jar = Path(f"/home/{bob.name}/jar")
            status, _ = curl(bob.name, link, "-c", str(jar))
            assert status == "303"
            assert curl(bob.name, plain, "-b", str(jar))[0] == "200"
            assert curl(bob.name, plain)[0] == "403"  # the cookie is the proof, not the visit
            forged = link.replace("colony_token=", "colony_token=x")
            assert curl(bob.name, forged)[0] == "403"

            alice.ok("share", a_web, "--with", bob.name)
            assert curl(bob.name, plain)[0] == "200"
        finally:
            for name in client_names(daemon):
                assert daemon.client is not None
                daemon.client.remove(name, force=True)
            remove_people(users)
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
