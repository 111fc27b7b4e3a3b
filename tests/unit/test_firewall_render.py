"""Pure rendering of a colony's nftables table."""

from ipaddress import IPv4Network

from colony.core.model import Slot
from colony.isolation.firewall import render_colony_table

SLOT = Slot("colony", "web", 3, IPv4Network("10.213.0.0/16"))


def test_table_text_is_exact() -> None:
    """When a colony table is rendered, the text is reset + NAT + forward + empty egress."""
    assert render_colony_table(SLOT) == (
        "table inet colony-web {}\n"
        "flush table inet colony-web\n"
        "table inet colony-web {\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        '\t\tip saddr 10.213.0.14 oifname != "colonyh3" masquerade\n'
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        '\t\tiifname "colonyh3" jump egress\n'
        "\t}\n"
        "\tchain egress {\n"
        "\t}\n"
        "}\n"
    )


def test_table_is_replaced_not_appended() -> None:
    """When the text is applied twice, the flush makes the second load replace the rules."""
    lines = render_colony_table(SLOT).splitlines()
    assert lines[:2] == ["table inet colony-web {}", "flush table inet colony-web"]


def test_each_colony_masquerades_its_own_address() -> None:
    """When two colonies are rendered, each NATs only its own address, leaving by other links."""
    other = Slot("colony", "api", 4, IPv4Network("10.213.0.0/16"))
    text = render_colony_table(other)
    assert 'ip saddr 10.213.0.18 oifname != "colonyh4" masquerade' in text
    assert "10.213.0.14" not in text
