"""The private view's plan (pure): where the colony's resolv.conf comes from."""

from __future__ import annotations

from colony.core.mounts import Bind, View, plan_view


def test_the_view_shows_the_stubs_resolv_conf_read_only_before_writable_binds() -> None:
    """When the view names a generated resolv.conf, it is bound read-only where the host's
    /etc/resolv.conf leads, before any directory the colony can write is bound."""
    view = View(
        state_dir="/var/lib/colony",
        tmp="/var/lib/colony/colonies/web/volume/tmp",
        own=("/var/lib/colony/colonies/web/volume/data",),
        resolv_conf=("/var/lib/colony/colonies/web/etc/resolv.conf", "/run/resolv/stub.conf"),
    )
    ops = plan_view(view)
    bind = Bind("/var/lib/colony/colonies/web/etc/resolv.conf", "/run/resolv/stub.conf", True)
    assert bind in ops
    writable = [i for i, op in enumerate(ops) if isinstance(op, Bind) and not op.readonly]
    assert ops.index(bind) < min(writable)
    assert not any(
        isinstance(op, Bind) and "resolv" in op.target
        for op in plan_view(View(state_dir="/var/lib/colony", tmp="/var/lib/colony/t"))
    )
