"""Pure rendering of a colony's nftables table: fixed chains, the policy as set contents."""

from ipaddress import IPv4Network

from colony.core.model import Slot
from colony.core.policy import AddressSets, Rules
from colony.isolation import nftnl
from colony.isolation.firewall import (
    SETS,
    comment,
    dns_port,
    gate_port,
    host_table,
    log_group,
    plan_contents,
    render_colony_table,
    render_host_table,
    render_replacement,
    render_set_messages,
)

SLOT = Slot("colony", "web", 3, IPv4Network("10.213.0.0/16"))
GROUP = log_group("colony")
STUB = dns_port("colony")
GATE = gate_port("colony")
UNDECIDED = "ip daddr != @direct4 ip daddr . {0} dport != @directp4"

DECLARED = (
    f'\tcomment "colony network v3 group {GROUP} veth colonyh3 dns {STUB} gate {GATE}"\n'
    "\tset allow4 { type ipv4_addr; flags interval; }\n"
    "\tset allowp4 { type ipv4_addr . inet_service; flags interval; }\n"
    "\tset deny4 { type ipv4_addr; flags interval; }\n"
    "\tset denyp4 { type ipv4_addr . inet_service; flags interval; }\n"
    "\tset exposed { type ifname . inet_service; }\n"
    "\tset direct4 { type ipv4_addr; flags interval; }\n"
    "\tset directp4 { type ipv4_addr . inet_service; flags interval; }\n"
    "\tset gated { type inet_service; }\n"
)

CHAINS = (
    "\tchain prerouting {\n"
    "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
    f'\t\tiifname "colonyh3" meta l4proto {{ tcp, udp }} th dport 53 redirect to :{STUB}\n'
    '\t\tiifname "colonyh3" ip daddr != 10.213.0.0/16 tcp dport @gated '
    + UNDECIDED.format("th")
    + f" redirect to :{GATE}\n"
    "\t}\n"
    "\tchain postrouting {\n"
    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
    '\t\tip saddr 10.213.0.14 ip daddr != 10.213.0.0/16 oifname != "colonyh3" masquerade\n'
    "\t}\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter; policy accept;\n"
    '\t\tiifname "colonyh3" ip saddr != 10.213.0.14 drop\n'
    '\t\tiifname "colonyh3" jump host\n'
    "\t}\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter; policy accept;\n"
    '\t\tiifname "colonyh3" ip saddr != 10.213.0.14 drop\n'
    '\t\tiifname "colonyh3" jump egress\n'
    '\t\toifname "colonyh3" jump ingress\n'
    "\t}\n"
    "\tchain host {\n"
    "\t\tct state established,related accept\n"
    f"\t\tmeta l4proto {{ tcp, udp }} th dport {STUB} ct status dnat accept\n"
    f"\t\ttcp dport {GATE} ct status dnat accept\n"
    "\t\tjump refuse\n"
    "\t}\n"
    "\tchain egress {\n"
    "\t\tct direction reply accept\n"
    "\t\tct state related accept\n"
    "\t\tip daddr 10.213.0.0/16 return\n"
    "\t\tmeta nfproto ipv6 jump refuse\n"
    "\t\tmeta l4proto { tcp, udp } th dport 53 jump refuse\n"
    "\t\tip daddr @deny4 jump refuse\n"
    "\t\tmeta l4proto { tcp, udp } ip daddr . th dport @denyp4 jump refuse\n"
    "\t\tudp dport @gated " + UNDECIDED.format("th") + " jump refuse\n"
    "\t\tip daddr @allow4 jump admit\n"
    "\t\tmeta l4proto { tcp, udp } ip daddr . th dport @allowp4 jump admit\n"
    "\t\tjump refuse\n"
    "\t}\n"
    "\tchain ingress {\n"
    "\t\tct direction reply accept\n"
    "\t\tct state related accept\n"
    "\t\tmeta l4proto { tcp, udp } iifname . th dport @exposed jump admit\n"
    "\t\tjump refuse\n"
    "\t}\n"
    "\tchain admit {\n"
    f'\t\tct state new log prefix "accept" group {GROUP}\n'
    "\t\taccept\n"
    "\t}\n"
    "\tchain refuse {\n"
    f'\t\tct state new log prefix "deny" group {GROUP}\n'
    "\t\tmeta l4proto tcp reject with tcp reset\n"
    "\t\treject with icmpx admin-prohibited\n"
    "\t}\n"
)

LOCKED = (
    "table inet colony-web {\n"
    + DECLARED
    + "}\n"
    + "flush table inet colony-web\n"
    + "".join(f"flush set inet colony-web {name}\n" for name in SETS)
    + "table inet colony-web {\n"
    + DECLARED
    + CHAINS
    + "}\n"
)

RULES = Rules(
    egress="allowlist",
    allow=AddressSets(
        v4=("10.1.2.0/23",),
        v6=("2001:db8::/32",),
        v4_ports=(("151.101.0.223", 443),),
        v6_ports=(("2a04:4e42::223", 443),),
    ),
    deny=AddressSets(v4=("169.254.169.254",), v4_ports=(("10.9.0.0/16", 22),)),
    exposed=(("colonyh4", 5432),),
    gate=True,
    direct=AddressSets(v4=("10.1.2.0/23",), v4_ports=(("198.18.0.9", 443),)),
)


def test_locked_table_text_is_exact() -> None:
    """When a colony's table is rendered without a policy, it is locked: NAT, no egress, the
    host refused, no ingress; sets declared and flushed first, the comment in the first block
    (a table's comment is fixed when it is made)."""
    assert render_colony_table(SLOT) == LOCKED


def test_policies_differ_only_in_set_contents() -> None:
    """When any policy is rendered, the chains are the same: a change needs only sets."""
    for egress in ("allow", "deny", "allowlist"):
        text = render_colony_table(SLOT, Rules(egress=egress))  # type: ignore[arg-type]
        assert CHAINS in text
    assert CHAINS in render_colony_table(SLOT, RULES)


def test_each_colony_masquerades_its_own_address_only_to_the_outside() -> None:
    """When two colonies are rendered, each NATs only its own address, never toward the pool
    (a peer sees a colony's real address)."""
    other = Slot("colony", "api", 4, IPv4Network("10.213.0.0/16"))
    text = render_colony_table(other)
    assert 'ip saddr 10.213.0.18 ip daddr != 10.213.0.0/16 oifname != "colonyh4" masquerade' in text
    assert "10.213.0.14" not in text


def test_egress_modes_as_data() -> None:
    """When egress is allow, everything is in allow4; deny empties allow; allowlist
    keeps its IPv4 entries (IPv6 ones are moot: colonies have no IPv6); deny entries and
    peers stay in every mode."""
    allow = plan_contents(Rules(egress="allow", deny=RULES.deny))
    assert [str(n) for n in allow.allow4] == ["0.0.0.0/0"]
    assert [str(n) for n in allow.deny4] == ["169.254.169.254/32"]
    deny = plan_contents(Rules(egress="deny", exposed=RULES.exposed))
    assert (deny.allow4, deny.allowp4) == ((), ())
    assert deny.exposed == (("colonyh4", 5432),)
    listed = plan_contents(RULES)
    assert [str(n) for n in listed.allow4] == ["10.1.2.0/23"]
    assert [(str(n), p) for n, p in listed.allowp4] == [("151.101.0.223/32", 443)]


def test_sets_carry_the_planned_elements() -> None:
    """When rules hold addresses and peers, each set lists its elements."""
    body = render_colony_table(SLOT, RULES).rsplit("table inet colony-web {\n", 1)[1]
    for line in (
        "\tset allow4 { type ipv4_addr; flags interval; elements = { 10.1.2.0/23 }; }\n",
        "\tset allowp4 { type ipv4_addr . inet_service; flags interval; "
        "elements = { 151.101.0.223 . 443 }; }\n",
        "\tset deny4 { type ipv4_addr; flags interval; elements = { 169.254.169.254 }; }\n",
        "\tset denyp4 { type ipv4_addr . inet_service; flags interval; "
        "elements = { 10.9.0.0/16 . 22 }; }\n",
        '\tset exposed { type ifname . inet_service; elements = { "colonyh4" . 5432 }; }\n',
        "\tset direct4 { type ipv4_addr; flags interval; elements = { 10.1.2.0/23 }; }\n",
        "\tset directp4 { type ipv4_addr . inet_service; flags interval; "
        "elements = { 198.18.0.9 . 443 }; }\n",
        "\tset gated { type inet_service; elements = { 80, 443 }; }\n",
    ):
        assert line in body


def test_replacement_deletes_and_recreates_in_one_load() -> None:
    """When a table is of another version, it is deleted and made anew in the same load."""
    text = render_replacement(SLOT, RULES)
    assert text.startswith("table inet colony-web {}\ndelete table inet colony-web\n")
    assert text.count("table inet colony-web {\n") == 1
    assert f'comment "{comment(SLOT)}"' in text


def test_set_messages_flush_then_fill_each_set() -> None:
    """When set contents are sent over netlink, each set is flushed, then filled."""
    messages = render_set_messages(SLOT, RULES)
    kinds = [m[4] for m in messages]  # the low byte of the type: the nf_tables message
    assert kinds == [nftnl.NFT_MSG_DELSETELEM, nftnl.NFT_MSG_NEWSETELEM] * len(SETS)
    for message, name in zip(messages[::2], SETS, strict=True):
        assert message == nftnl.render_flush_set("colony-web", name)


def test_gate_only_for_allowlists_naming_hosts() -> None:
    """When a policy is an allowlist with names, TCP 80/443 is gated and its IP entries are
    direct; without names, or in other modes, nothing is gated (issue 16)."""
    from colony.core.policy import parse_policy, plan_rules

    names = plan_rules(parse_policy("allowlist", ["ok.test", "198.18.0.0/24:443"]), {})
    assert (names.gate, names.direct.v4_ports) == (True, (("198.18.0.0/24", 443),))
    assert plan_contents(names).gated == (80, 443)
    for policy in (parse_policy("allowlist", ["198.18.0.0/24"]), parse_policy("allow")):
        rules = plan_rules(policy, {})
        assert not rules.gate
        assert plan_contents(rules).gated == ()
        assert plan_contents(rules).direct4 == ()


def test_gate_for_allow_with_denied_names() -> None:
    """When egress is allow and a deny entry names a host, TCP 80/443 is gated: the deny
    list's IP and CIDR entries are direct (the firewall refuses them on every port), and the
    denied name's addresses stay in deny4 (refused on the ports the gate does not see) but
    not in direct4 (80/443 to them goes to the gate, which decides by name)."""
    from colony.core.policy import parse_policy, plan_rules

    policy = parse_policy("allow", ["ok.test"], ["*.evil.test", "bad.test", "10.9.0.0/16:22"])
    rules = plan_rules(policy, {"bad.test": ("198.18.0.7",)})
    contents = plan_contents(rules)
    assert (rules.gate, contents.gated) == (True, (80, 443))
    assert [str(n) for n in contents.allow4] == ["0.0.0.0/0"]
    assert [str(n) for n in contents.deny4] == ["198.18.0.7/32"]
    assert contents.direct4 == ()  # allow entries mean nothing in allow mode
    assert [(str(n), p) for n, p in contents.directp4] == [("10.9.0.0/16", 22)]
    ported = plan_rules(parse_policy("allow", [], ["bad.test:443", "203.0.113.0/24"]), {})
    assert (ported.gate, ported.direct.v4) == (True, ("203.0.113.0/24",))
    for plain in (parse_policy("allow", [], ["203.0.113.0/24"]), parse_policy("allow")):
        assert not plan_rules(plain, {}).gate  # no names: the firewall alone, as before


def test_allowlist_gate_keeps_deny_entries_direct_and_names_to_the_gate() -> None:
    """When an allowlist names hosts and denies a name and a network, the network is direct
    beside the allowlist's IP entries, and the denied name's addresses are refused by the
    firewall except on TCP 80/443 (the gate's)."""
    from colony.core.policy import parse_policy, plan_rules

    policy = parse_policy("allowlist", ["ok.test", "10.1.0.0/16"], ["bad.test", "10.2.0.0/16"])
    rules = plan_rules(policy, {"ok.test": ("198.18.0.7",), "bad.test": ("198.18.0.7",)})
    contents = plan_contents(rules)
    assert [str(n) for n in contents.direct4] == ["10.1.0.0/16", "10.2.0.0/16"]
    assert [str(n) for n in contents.deny4] == ["10.2.0.0/16", "198.18.0.7/32"]


def test_log_group_is_fixed_by_the_prefix() -> None:
    """When two daemons have different prefixes, their tables log to different groups in the
    range; the same prefix always gives the same group."""
    assert log_group("colony") == log_group("colony")
    assert log_group("colony") != log_group("ct-1234abcd")
    assert 4096 <= log_group("x") < 61440
    assert dns_port("colony") == dns_port("colony") != dns_port("ct-1234abcd")
    assert 20000 <= dns_port("x") < 30000  # below the kernel's ephemeral ports


def test_host_table_lets_only_root_open_connections_to_the_pool() -> None:
    """When the daemon prepares, its own table (a name no colony's can take) refuses new
    connections from the host to the pool's addresses unless the sender is root."""
    text = render_host_table("colony", IPv4Network("10.213.0.0/16"))
    assert host_table("colony") == "colony_host"
    assert text.startswith('table inet colony_host {\n\tcomment "colony host v1"\n}\n')
    assert "flush table inet colony_host\n" in text  # loading it again replaces its rules
    assert "type filter hook output priority filter; policy accept;" in text
    guard = "ip daddr 10.213.0.0/16 meta skuid != 0 ct state new"
    assert f"{guard} meta l4proto tcp reject with tcp reset" in text
    assert f"{guard} reject with icmpx admin-prohibited" in text
