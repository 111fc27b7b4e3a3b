"""Who may do what to a colony (issue 14): roles, the action each operation is, and the one
decision every front end's request goes through.

A caller is who the kernel says is on the other end of the Unix socket (``SO_PEERCRED``), or
the user a Bloom token was minted for. Admins (root and members of ``colony-admin``) may do
everything; a colony's owner everything on their own colonies and broods; a user the owner
shared a colony with gets the role of that share. Anyone else does not see the colony at
all: it is absent from lists and events, and a request naming it is refused with who to ask.

Example:
    >>> alice, bob = Caller("alice", 1001), Caller("bob", 1002)
    >>> role_of(bob, "alice", {"bob": Role.VIEWER})
    <Role.VIEWER: 1>
    >>> allows(role_of(bob, "alice", {"bob": Role.VIEWER}), Action.EXEC)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from colony.errors import ConfigError, Forbidden

ADMIN_GROUP = "colony-admin"  # its members (and root) are admins
USERS_GROUP = "colony"  # the API socket's group: its members may use Colony


class Role(enum.IntEnum):
    """What a user may do with one colony; each role may do everything of the ones below."""

    VIEWER = 1  # look: ls, show, logs, url and previews, top, diff, audit
    OPERATOR = 2  # run: stop, start, restart, exec, shell, agents
    OWNER = 3  # decide: rm, merge, pick, policy and limits, share, undo
    ADMIN = 4  # every colony

    def __str__(self) -> str:
        return self.name.lower()


SHARE_ROLES = (Role.VIEWER, Role.OPERATOR)  # what `colony share --role` can give


class Action(enum.Enum):
    """An operation on a colony; :data:`NEEDS` says the least role it takes."""

    VIEW = "see"  # show, logs, urls, usage, network, diff, snapshots, audit, events
    PREVIEW = "open the previews of"
    OPERATE = "stop or start"
    EXEC = "run commands in"  # exec and shell
    AGENT = "run agents in"  # run, continue and stop agents
    REMOVE = "remove"
    MERGE = "merge or undo"  # merge, pick a brood's winner, undo, snapshot
    POLICY = "change the policy or limits of"
    SHARE = "share"

    @property
    def needs(self) -> Role:
        return NEEDS[self]


NEEDS: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.PREVIEW: Role.VIEWER,
    Action.OPERATE: Role.OPERATOR,
    Action.EXEC: Role.OPERATOR,
    Action.AGENT: Role.OPERATOR,
    Action.REMOVE: Role.OWNER,
    Action.MERGE: Role.OWNER,
    Action.POLICY: Role.OWNER,
    Action.SHARE: Role.OWNER,
}


@dataclass(frozen=True)
class Caller:
    """Who asks: a user name and uid (None for a token without one) and whether an admin."""

    user: str
    uid: int | None
    admin: bool = False


def parse_role(text: str) -> Role:
    """A role `colony share` can give, from its name.

    Raises:
        ConfigError: names the value and the roles there are.
    """
    for role in SHARE_ROLES:
        if text == str(role):
            return role
    names = " or ".join(str(r) for r in SHARE_ROLES)
    raise ConfigError(f"role: {text!r} is not a role a colony can be shared with; expected {names}")


def role_of(caller: Caller, owner: str, shares: Mapping[str, Role]) -> Role | None:
    """The caller's role on a colony of ``owner`` shared as ``shares`` (user → role); None:
    the caller may not even see it."""
    if caller.admin:
        return Role.ADMIN
    if caller.user == owner:
        return Role.OWNER
    return shares.get(caller.user)


def allows(role: Role | None, action: Action) -> bool:
    return role is not None and role >= action.needs


def check(
    caller: Caller, colony: str, owner: str, shares: Mapping[str, Role], action: Action
) -> Role:
    """The caller's role on ``colony`` if it allows ``action``.

    Raises:
        Forbidden: one line naming the user, the action and the colony, with a hint naming
            who can change it.
    """
    role = role_of(caller, owner, shares)
    if allows(role, action):
        assert role is not None
        return role
    verb = action.value
    article = "an" if str(role)[:1] in "aeiou" else "a"
    had = f" ({article} {role} of it)" if role is not None else ""
    needed = action.needs
    if needed <= Role.OPERATOR:
        how = f"colony share {colony} --with {caller.user} --role {needed}"
        hint = f"ask {owner} or an admin: {how}"
    else:
        hint = f"only {owner} or an admin may {verb} it; ask them"
    raise Forbidden(f"{caller.user} may not {verb} colony {colony!r}{had}", hint=hint)


__all__ = [
    "ADMIN_GROUP",
    "SHARE_ROLES",
    "USERS_GROUP",
    "Action",
    "Caller",
    "Role",
    "allows",
    "check",
    "parse_role",
    "role_of",
]
