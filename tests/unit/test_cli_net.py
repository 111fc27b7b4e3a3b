"""`colony net` and `colony policy` rendering, and their bad input (before any request)."""

from __future__ import annotations

from datetime import UTC

from click.testing import CliRunner

from colony.cli import main
from colony.cli.net import format_blocked, format_network, format_policy
from colony.contract_responses import Blocked, Network, load

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
    "learned": {},
    "stub": "10.213.0.13",
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
    "dns": {"answered": 0, "refused": 0, "names": [], "queries": []},
    "blocked": [],
}
VIEW = load(Network, SENT)
RECORD = ["00:16:39", "deny", "tcp", "198.18.0.3:8080", "alice"]


def test_policy_block_shows_mode_entries_resolution_and_origin() -> None:
    """When a policy is shown, names carry their addresses, and who set it and when."""
    assert format_policy(VIEW, 1000.0).plain.splitlines() == [
        "egress  allowlist  (set by alice 10s ago)",
        "allow   ok.test:8080 (198.18.0.2), 10.1.0.0/16, gone.test (unresolved)",
        "deny    -",
        "dns     Mycelium's stub on 10.213.0.13 (answers what the policy allows)",
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
    assert RECORD in rows
    assert text.splitlines()[-1] == "dns questions 0 answered, 0 refused"


def test_gate_records_show_the_name() -> None:
    """When the egress gate judged a connection, the record shows the name it asked for."""
    gated = {"host": "pypi.org", "dest": "198.18.0.9", "port": 443, "proto": "tcp"}
    view = load(Network, {**SENT, "records": [{**SENT["records"][0], **gated}]})
    rows = [line.split() for line in format_network(view, 1000.0, UTC).plain.splitlines()]
    assert ["00:16:39", "deny", "tcp", "pypi.org:443", "alice"] in rows


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
        (["--remove", "x.test:0"], "error: --remove: expected a port 1-65535"),
        (["--allow", "a.test", "--deny", "a.test"], "error: --deny: 'a.test' is also given"),
        (["--egress", "deny", "--remove", "a.test"], "error: --remove: expected without"),
        (["--reset", "--egress", "deny"], "error: --reset: expected no --egress"),
    ]
    for flags, start in cases:
        done = runner.invoke(main, ["--socket", socket, "policy", "web", *flags])
        assert done.exit_code == 1, done.output
        assert done.output.startswith(start), done.output
    assert not (tmp_path / "none.sock").exists()


def test_dns_questions_show_counters_names_and_what_each_was_told() -> None:
    """When the stub answered and refused questions, `colony net` counts them, lists the
    names asked most and the recent questions with their addresses or NXDOMAIN and why."""
    dns = {
        "answered": 4,
        "refused": 1,
        "names": [
            {"name": "ok.test", "qtype": "A", "verdict": "accept", "count": 4, "last": 998.0,
             "answer": ["198.18.0.2"]},
            {"name": "x.evil.test", "qtype": "A", "verdict": "deny", "count": 1, "last": 999.0,
             "answer": []},
        ],
        "queries": [
            {"type": "dns", "colony": "web", "user": "alice", "name": "x.evil.test",
             "qtype": "A", "verdict": "deny", "answer": [], "count": 1, "at": 999.0,
             "reason": "x.evil.test is denied by '*.evil.test'"},
        ],
    }  # fmt: skip
    text = format_network(load(Network, {**SENT, "dns": dns}), 1000.0, UTC).plain
    assert "dns questions 4 answered, 1 refused" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["ok.test", "A", "4", "2s", "ago", "198.18.0.2"] in rows
    assert ["x.evil.test", "A", "1", "1s", "ago", "NXDOMAIN"] in rows
    assert text.splitlines()[-1].split() == [
        "00:16:39", "deny", "A", "x.evil.test", "NXDOMAIN:", "x.evil.test", "is", "denied",
        "by", "'*.evil.test'",
    ]  # fmt: skip


def test_blocked_names_show_what_admits_each() -> None:
    sent = {
        "colony": "web",
        "blocked": [
            {"host": "x.test", "port": 443, "count": 2, "last": 90.0, "reason": "", "via": "gate",
             "fix": "x.test:443", "denied_by": None},
            {"host": "y.test", "port": None, "count": 1, "last": 50.0, "reason": "", "via": "dns",
             "fix": None, "denied_by": "*.y.test"},
            {"host": "m.test", "port": 80, "count": 1, "last": 40.0, "via": "gate", "fix": None,
             "reason": "colony 'web': egress to m.test:80 is refused: m.test resolves to …",
             "denied_by": None},
        ],
    }  # fmt: skip
    lines = format_blocked(load(Blocked, sent), now=100.0).plain.splitlines()
    assert lines[0].split() == ["NAME", "PORT", "BY", "COUNT", "LAST", "TO", "ALLOW", "IT"]
    assert lines[1].split() == [
        "x.test", "443", "gate", "2", "10s", "ago", "colony", "policy", "web", "--allow",
        "x.test:443",
    ]  # fmt: skip
    assert lines[2].split()[:4] == ["y.test", "-", "dns", "stub"]
    assert lines[2].endswith("denied by '*.y.test'")
    assert lines[3].endswith("egress to m.test:80 is refused: m.test resolves to …")
    empty = Blocked(colony="web", blocked=[])
    assert format_blocked(empty, 0.0).plain == "colony 'web': no names refused lately"
