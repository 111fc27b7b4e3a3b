"""Who callers are and who owns what (issue 14): the daemon's side of the API's access check
(:class:`colony.api.access.Directory`). Owners and shares come from the store; admins are
root and the members of the group ``colony-admin``, read from the host's group database on
each request, so `usermod` takes effect without restarting Mycelium."""

from __future__ import annotations

import grp
import os
import pwd
import time
from collections.abc import Callable, Mapping
from typing import Any

from colony.core.access import ADMIN_GROUP, Caller, Role
from colony.core.bus_events import ShareEvent
from colony.daemon.events import EventBus
from colony.errors import ConfigError, NotFound
from colony.store.broods import Broods
from colony.store.queries import Store
from colony.store.shares import Shares


def is_admin(user: str, uid: int | None, group: str = ADMIN_GROUP) -> bool:
    """Whether ``user`` is root or a member of ``group`` (primary or supplementary)."""
    if uid == 0:
        return True
    try:
        account = pwd.getpwnam(user)
    except KeyError:  # a user the host does not know
        return False
    if uid is not None and account.pw_uid != uid:
        return False  # a token's name that is now another account's
    if account.pw_uid == 0:
        return True
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:  # no such group
        return False
    return gid in os.getgrouplist(user, account.pw_gid)


class Access:
    """The API's :class:`~colony.api.access.Directory` over the store."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Callable[[], float] = time.time,
        admin_group: str = ADMIN_GROUP,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.shares_of = Shares(store)
        self.broods = Broods(store.conn)
        self.admin_group = admin_group

    def caller(self, user: str, uid: int | None) -> Caller:
        return Caller(user, uid, admin=is_admin(user, uid, self.admin_group))

    def owner(self, colony: str) -> str | None:
        rec = self.store.find(colony)
        return None if rec is None else rec.owner

    def shares(self, colony: str) -> Mapping[str, Role]:
        return self.shares_of.of(colony)

    def brood_owner(self, brood: str) -> str | None:
        rec = self.broods.find(brood)
        return None if rec is None else rec.owner

    # --- sharing (`colony share`, `colony unshare`) --------------------------------------

    def listing(self, colony: str) -> dict[str, Any]:
        """The colony's owner and who it is shared with."""
        rec = self.store.get(colony)
        shared = [{"user": u, "role": str(r)} for u, r in self.shares_of.of(colony).items()]
        return {"colony": colony, "owner": rec.owner, "shares": shared}

    def share(self, colony: str, to: str, role: Role, *, by: str) -> dict[str, Any]:
        """Give ``to`` the role ``role`` on ``colony`` (or change the one they have).

        Raises:
            ConfigError: ``to`` is no user of this machine, or the colony's owner.
            NotFound: no such colony.
        """
        rec = self.store.get(colony)
        try:
            pwd.getpwnam(to)
        except KeyError:
            raise ConfigError(f"user: {to!r} is not a user of this machine") from None
        if to == rec.owner:
            raise ConfigError(f"user: {to!r} owns colony {colony!r}; nothing to share")
        self.shares_of.give(colony, to, role, by=by, at=self.clock())
        self.bus.publish(ShareEvent(colony=colony, user=by, to=to, role=str(role), at=self.clock()))
        return self.listing(colony)

    def unshare(self, colony: str, to: str, *, by: str) -> dict[str, Any]:
        """End ``to``'s share of ``colony``.

        Raises:
            NotFound: no such colony, or it is not shared with ``to``.
        """
        self.store.get(colony)
        if not self.shares_of.take(colony, to):
            raise NotFound(f"colony {colony!r} is not shared with {to!r}")
        self.bus.publish(ShareEvent(colony=colony, user=by, to=to, role=None, at=self.clock()))
        return self.listing(colony)


__all__ = ["Access", "is_admin"]
