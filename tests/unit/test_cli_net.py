"""`colony net` and `colony policy` rendering, and their bad input (before any request)."""

from __future__ import annotations

from datetime import UTC

from click.testing import CliRunner

from colony.cli import main
from colony.cli.net import format_network, format_policy
from colony.contract_responses import Network, load

SENT = {
    "colony": "web",
    "attached": True,
    "policy": {
        "egress": "allowlist",
        "allow": ["ok.test:8080", "10.1.0.0/16", "gone.test"],
        "deny": [],
    },
    "source": "override",
    "set_by": "alice",
    "set_at": 990.0,
    "resolved": {"ok.test": ["198.18.0.2"], "gone.test": []},
    "resolvers": ["10.255.255.53"],
    "expose_to": [],
    "exposed_to": ["api"],
    "accepted": 3,
    "denied": 2,
    "destinations": [
        {
            "dest": "198.18.0.3",
            "port": 8080,
            "proto": "tcp",
            "accepted": 0,
            "denied": 2,
            "last": 999.0,
        },
        {
            "dest": "2001:db8::1",
            "port": 443,
            "proto": "tcp",
            "accepted": 3,
            "denied": 0,
            "last": 995.0,
        },
    ],
    "records": [
        {
            "type": "net",
            "colony": "web",
            "user": "alice",
            "dest": "198.18.0.3",
            "port": 8080,
            "proto": "tcp",
            "verdict": "deny",
            "at": 999.0,
        }
    ],
}
VIEW = load(Network, SENT)


def test_policy_block_shows_mode_entries_resolution_and_origin() -> None:
    """When a policy is shown, names carry their addresses, and who set it and when."""
    assert format_policy(VIEW, 1000.0).plain.splitlines() == [
        "egress  allowlist  (set by alice 10s ago)",
        "allow   ok.test:8080 (198.18.0.2), 10.1.0.0/16, gone.test (unresolved)",
        "deny    -",
        "dns     10.255.255.53",
        "let in  api",
    ]


def test_network_view_shows_counters_destinations_and_records() -> None:
    """When connections were recorded, counters, busiest destinations and recent records
    follow the policy."""
    text = format_network(VIEW, 1000.0, UTC).plain
    assert "connections 3 accepted, 2 denied" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["198.18.0.3:8080", "tcp", "0", "2", "1s", "ago"] in rows
    assert "[2001:db8::1]:443" in text
    assert text.splitlines()[-1].split() == ["00:16:39", "deny", "tcp", "198.18.0.3:8080", "alice"]


def test_a_colony_without_kernel_objects_says_when_its_policy_applies() -> None:
    """When the colony has no network now, the view says the policy applies at its start."""
    view = load(Network, {**SENT, "attached": False, "source": "colony.toml"})
    assert "applied when the colony next starts" in format_policy(view, 1000.0).plain


def test_bad_flags_fail_before_any_request(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """When `colony policy` gets bad flags, it prints one error line and exits 1 without
    contacting (or starting) Mycelium."""
    runner = CliRunner()
    socket = str(tmp_path / "none.sock")
    cases = [
        (["--egress", "maybe"], "error: --egress: expected one of allow, deny, allowlist"),
        (["--egress", "allowlist", "--allow", "x:70000"], "error: --allow: expected a port"),
        (["--deny", "10.0.0.0/8"], "error: --egress: required with --allow or --deny"),
        (["--reset", "--egress", "deny"], "error: --reset: expected no --egress"),
    ]
    for flags, start in cases:
        done = runner.invoke(main, ["--socket", socket, "policy", "web", *flags])
        assert done.exit_code == 1, done.output
        assert done.output.startswith(start), done.output
    assert not (tmp_path / "none.sock").exists()
