"""`make bench` (network): policy changes among 500 colonies, and spawn with and without a policy.

One run measures, p50 and p95 over N rounds:
  (a) spawn until `running` of a colony without a policy (colony.toml's default: egress allow);
  (b) the same with a policy: an allowlist of 6 entries, 2 of them host names (pinned through
      the daemon's hosts file, so no DNS traffic);
  (c) a live policy change through the API (`colony policy`), one colony, no other colonies;
  (d) the same with 500 colonies present: 500 namespaces, veth pairs and nft tables with a
      policy, made directly through LinuxIsolation (not full spawns), with the daemon's
      prefix so its tables sit next to them;
  (e) spawn with a policy, with those 500 present (issue 15: at most 1.2 times (b));
and, without and with the 500: the `nft -f` load of a whole table (f, g: what a new colony
cost before issue 15), a policy's set contents sent over netlink (h, i: what a change costs),
listing the daemon's tables (j, k: what gc and adoption cost), and a colony's table made as
a new colony's is now (l, m).
Everything it makes is removed at the end, also on failure.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import (
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
    wait_state,
)

from colony.client import Client
from colony.core.model import Slot
from colony.core.policy import parse_policy, plan_rules
from colony.isolation import firewall
from colony.isolation.linux import LinuxIsolation
from colony.isolation.marks import render_mark

PREFIX = "cbnet"
POOL = "10.215.0.0/19"  # 2047 slots: the daemon's colonies from 1, the 500 from FIRST_EXTRA
FIRST_EXTRA = 600
EXTRA = 500
POLICY_TOML = """[network]
egress = "allowlist"
allow = ["pkg.bench.test:443", "git.bench.test", "10.1.0.0/16", "192.0.2.7:80",
         "198.51.100.0/24:443", "2001:db8::/32"]
deny = ["169.254.169.254"]
"""
HOSTS = "203.0.113.10 pkg.bench.test\n203.0.113.11 git.bench.test\n"


def spawn_rounds(client: Client, repo: Path, tag: str, config: str | None, n: int) -> list[float]:
    """Spawn and remove ``n`` colonies (after 2 warm-ups); seconds until each ran."""
    out = []
    for i in range(n + 2):
        name = f"{tag}{i}"
        with client.events(name) as events:
            t0 = time.perf_counter()
            client.spawn(name, str(repo), config=str(repo / config) if config else None)
            wait_state(events, name, "running")
            took = time.perf_counter() - t0
        client.remove(name, force=True)
        client.trash_purge(name)  # untimed: the trash stays small
        if i >= 2:
            out.append(took)
    return out


def policy_rounds(client: Client, name: str, n: int) -> list[float]:
    """Live policy changes through the API, alternating two allowlists."""
    out = []
    for i in range(n + 2):
        allow = ["pkg.bench.test:443", f"10.{i % 250}.0.0/16", "198.51.100.0/24:443"]
        t0 = time.perf_counter()
        client.set_policy(name, "allowlist", allow, ["169.254.169.254"])
        if i >= 2:
            out.append(time.perf_counter() - t0)
    return out


def nft_rounds(slot: Slot, n: int) -> list[float]:
    out = []
    for i in range(n):
        allow = ["10.1.0.0/16", f"192.0.2.{1 + i % 200}:80"]
        rules = plan_rules(parse_policy("allowlist", allow, ["169.254.169.254"]), {})
        text = firewall.render_colony_table(slot, rules)
        t0 = time.perf_counter()
        firewall.apply(text)
        out.append(time.perf_counter() - t0)
    return out


def create_rounds(slot: Slot, n: int) -> list[float]:
    """The colony's table made as a new colony's is (its netns exists), after a delete."""
    out = []
    for _ in range(n):
        firewall.delete_table(slot.table)
        t0 = time.perf_counter()
        firewall.create_table(slot)
        out.append(time.perf_counter() - t0)
    return out


def sets_rounds(slot: Slot, n: int) -> list[float]:
    """Policy changes of one table straight through the firewall module (no API)."""
    out = []
    for i in range(n):
        policy = parse_policy("allowlist", [f"10.{i % 250}.0.0/16", "192.0.2.7:80"])
        rules = plan_rules(policy, {})
        t0 = time.perf_counter()
        firewall.apply_policy(slot, rules)
        out.append(time.perf_counter() - t0)
    return out


def list_rounds(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        firewall.list_tables(PREFIX)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    args = parse_args(__doc__, rounds=20)
    if lacks_root("bench", "network namespaces"):
        return 1
    work = make_work("colony-bench-net")
    work.chmod(0o755)  # colony processes may run as an unprivileged user (issue 3)
    pool = ipaddress.IPv4Network(POOL)
    iso = LinuxIsolation(mark=render_mark(PREFIX, str(work)))
    extra = [Slot(PREFIX, f"x{i}", FIRST_EXTRA + i, pool) for i in range(EXTRA)]
    probe = Slot(PREFIX, "probe", FIRST_EXTRA + EXTRA, pool)
    figures: dict[str, object] = {"rounds": args.rounds, "colonies_present": EXTRA}
    (work / "hosts").write_text(HOSTS)
    hosts = {"COLONY_HOSTS_FILE": str(work / "hosts")}
    daemon, client = start_daemon(work, PREFIX, POOL, socket="m.sock", http_port="off", env=hosts)
    made: list[Slot] = []
    try:
        repo = make_repo(work, {"README.md": "bench\n", "policy.toml": POLICY_TOML})
        figures["spawn_no_policy"] = summary(spawn_rounds(client, repo, "p", None, args.rounds))
        figures["spawn_policy"] = summary(
            spawn_rounds(client, repo, "q", "policy.toml", args.rounds)
        )
        client.spawn("live", str(repo), config=str(repo / "policy.toml"))
        with client.events("live") as events:
            if client.colony("live").state != "running":
                wait_state(events, "live", "running")
        figures["policy_change_alone"] = summary(policy_rounds(client, "live", args.rounds))
        made.append(probe)
        iso.create(probe)
        figures["nft_load_alone"] = summary(nft_rounds(probe, args.rounds))
        figures["create_alone"] = summary(create_rounds(probe, args.rounds))
        figures["sets_alone"] = summary(sets_rounds(probe, args.rounds))
        figures["list_alone"] = summary(list_rounds(args.rounds))

        rules = plan_rules(parse_policy("allowlist", ["10.1.0.0/16"]), {})
        t0 = time.perf_counter()
        for slot in extra:
            iso.create(slot)
            made.append(slot)
            iso.set_network(slot, rules)
        figures["create_present_s"] = round(time.perf_counter() - t0, 2)
        figures["policy_change_present"] = summary(policy_rounds(client, "live", args.rounds))
        figures["nft_load_present"] = summary(nft_rounds(probe, args.rounds))
        figures["create_present"] = summary(create_rounds(probe, args.rounds))
        figures["sets_present"] = summary(sets_rounds(probe, args.rounds))
        figures["list_present"] = summary(list_rounds(args.rounds))
        figures["spawn_policy_present"] = summary(
            spawn_rounds(client, repo, "r", "policy.toml", args.rounds)
        )
    finally:
        for colony in client.colonies().colonies:
            client.remove(colony.name, force=True)
        with ThreadPoolExecutor(8) as pool_exec:
            list(pool_exec.map(iso.destroy, made))
        client.close()
        stop_daemon(daemon)
        remove_work(work)
    report(figures, args.json)
    return 0


def report(figures: dict[str, object], as_json: bool) -> None:
    def f(key: str) -> dict[str, float]:
        return figures[key]  # type: ignore[return-value]

    figures["ratio_spawn_policy_to_none_p50"] = (
        f("spawn_policy")["p50"] / f("spawn_no_policy")["p50"]
    )
    figures["ratio_change_present_to_alone_p50"] = (
        f("policy_change_present")["p50"] / f("policy_change_alone")["p50"]
    )
    figures["ratio_spawn_present_to_none_p50"] = (
        f("spawn_policy_present")["p50"] / f("spawn_policy")["p50"]
    )
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    print(f"rounds: {figures['rounds']} (after 2 warm-up rounds)")
    for key, label in (
        ("spawn_no_policy", "(a) spawn, no policy"),
        ("spawn_policy", "(b) spawn, allowlist policy"),
        ("policy_change_alone", "(c) policy change, 1 colony"),
        ("policy_change_present", f"(d) policy change, {EXTRA} colonies present"),
        ("spawn_policy_present", f"(e) spawn with policy, {EXTRA} present"),
        ("nft_load_alone", "(f) nft -f of a whole table, alone"),
        ("nft_load_present", f"(g) nft -f of a whole table, {EXTRA} present"),
        ("sets_alone", "(h) set contents over netlink, alone"),
        ("sets_present", f"(i) set contents over netlink, {EXTRA} present"),
        ("list_alone", "(j) list the daemon's tables, alone"),
        ("list_present", f"(k) list the daemon's tables, {EXTRA} present"),
        ("create_alone", "(l) a colony's table made, alone"),
        ("create_present", f"(m) a colony's table made, {EXTRA} present"),
    ):
        print(f"{label:44s} p50 {f(key)['p50']:7.1f} ms   p95 {f(key)['p95']:7.1f} ms")
    print(f"ratio (b)/(a) at p50: {figures['ratio_spawn_policy_to_none_p50']:.2f}")
    print(f"ratio (d)/(c) at p50: {figures['ratio_change_present_to_alone_p50']:.2f}")
    ratio = figures["ratio_spawn_present_to_none_p50"]
    print(f"ratio (e)/(b) at p50: {ratio:.2f} (issue 15: at most 1.2)")
    print(f"making the {EXTRA} colonies' kernel objects took {figures['create_present_s']} s")


if __name__ == "__main__":
    sys.exit(main())
