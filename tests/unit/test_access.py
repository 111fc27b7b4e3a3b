"""Who may do what to a colony (issue 14): the roles' order, the decision and its words, and
the shares as stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.api.access import Sight
from colony.core.access import Action, Caller, Role, allows, check, parse_role, role_of
from colony.core.model import ColonyRecord, State
from colony.errors import ConfigError, Forbidden
from colony.store.queries import Store
from colony.store.shares import Shares

ALICE, BOB, ROOT = Caller("alice", 1001), Caller("bob", 1002), Caller("root", 0, admin=True)


def test_roles_are_owner_admin_or_what_was_shared() -> None:
    assert role_of(ALICE, "alice", {}) is Role.OWNER
    assert role_of(ROOT, "alice", {}) is Role.ADMIN
    assert role_of(BOB, "alice", {}) is None
    assert role_of(BOB, "alice", {"bob": Role.OPERATOR}) is Role.OPERATOR
    assert role_of(BOB, "alice", {"carol": Role.OPERATOR}) is None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (None, set()),
        (Role.VIEWER, {Action.VIEW, Action.PREVIEW}),
        (Role.OPERATOR, {Action.VIEW, Action.PREVIEW, Action.OPERATE, Action.EXEC, Action.AGENT}),
        (Role.OWNER, set(Action)),
        (Role.ADMIN, set(Action)),
    ],
)
def test_each_role_may_do_what_the_ones_below_may_and_more(
    role: Role | None, allowed: set[Action]
) -> None:
    assert {a for a in Action if allows(role, a)} == allowed


def test_a_refusal_names_user_action_colony_and_who_to_ask() -> None:
    with pytest.raises(Forbidden) as info:
        check(BOB, "alice-web", "alice", {"bob": Role.VIEWER}, Action.EXEC)
    assert str(info.value) == "bob may not run commands in colony 'alice-web' (a viewer of it)"
    assert info.value.hint == (
        "ask alice or an admin: colony share alice-web --with bob --role operator"
    )
    assert info.value.status == 403
    with pytest.raises(Forbidden) as info:
        check(BOB, "alice-web", "alice", {"bob": Role.OPERATOR}, Action.REMOVE)
    assert str(info.value) == "bob may not remove colony 'alice-web' (an operator of it)"
    assert info.value.hint == "only alice or an admin may remove it; ask them"
    with pytest.raises(Forbidden, match=r"^bob may not see colony 'alice-web'$"):
        check(BOB, "alice-web", "alice", {}, Action.VIEW)
    assert check(ALICE, "alice-web", "alice", {}, Action.SHARE) is Role.OWNER


def test_share_roles_are_viewer_and_operator_only() -> None:
    assert parse_role("viewer") is Role.VIEWER
    assert parse_role("operator") is Role.OPERATOR
    for bad in ("owner", "admin", "Viewer", ""):
        with pytest.raises(ConfigError, match="expected viewer or operator"):
            parse_role(bad)


def test_shares_are_kept_changed_ended_and_go_with_the_colony(tmp_path: Path) -> None:
    store = Store(tmp_path / "mycelium.db")
    for name in ("web", "api"):
        store.insert(ColonyRecord(name, 1 if name == "web" else 2, State.RUNNING, "alice", 1.0,
                                  1.0, "/r", "colony.toml", ""))  # fmt: skip
    shares = Shares(store)
    shares.give("web", "bob", Role.VIEWER, by="alice", at=2.0)
    shares.give("web", "carol", Role.OPERATOR, by="alice", at=2.0)
    shares.give("api", "bob", Role.OPERATOR, by="root", at=3.0)
    shares.give("web", "bob", Role.OPERATOR, by="alice", at=4.0)
    assert shares.of("web") == {"bob": Role.OPERATOR, "carol": Role.OPERATOR}
    assert shares.take("web", "carol") is True
    assert shares.take("web", "carol") is False
    assert shares.all() == {"api": {"bob": Role.OPERATOR}, "web": {"bob": Role.OPERATOR}}
    store.delete("web")
    assert shares.all() == {"api": {"bob": Role.OPERATOR}}


class _Directory:
    """Who owns what, for :class:`colony.api.access.Sight`: alice owns "web", shared with
    bob as a viewer."""

    def caller(self, user: str, uid: int | None) -> Caller:
        return Caller(user, uid)

    def owner(self, colony: str) -> str | None:
        return "alice" if colony == "web" else None

    def shares(self, colony: str) -> dict[str, Role]:
        return {"bob": Role.VIEWER}

    def brood_owner(self, brood: str) -> str | None:
        return None


def test_a_name_is_checked_as_its_own_route_would_be() -> None:
    """When a route acts on several colonies (issue 15: removing many), each name is checked
    as the route naming it would be: the owner and an admin may remove it, a viewer may not
    (one line naming both), and a name of no colony passes (the handler says so)."""
    Sight(ALICE, _Directory()).require("web", Action.REMOVE)
    Sight(ROOT, _Directory()).require("web", Action.REMOVE)
    Sight(BOB, _Directory()).require("nosuch", Action.REMOVE)
    with pytest.raises(Forbidden, match=r"^bob may not remove colony 'web' \(a viewer of it\)"):
        Sight(BOB, _Directory()).require("web", Action.REMOVE)
