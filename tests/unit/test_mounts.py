"""The private view's plan (pure): where the colony's resolv.conf comes from."""

from __future__ import annotations

from colony.core.mounts import CA_BUNDLE, Bind, View, plan_view


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


def test_a_colony_with_secrets_sees_its_ca_bundle_read_only_also_as_the_systems() -> None:
    """When the view names the colony's CA bundle (issue 17), it is bound read-only at
    /run/colony/ca-bundle.pem and over the host's CA file, before any writable bind; without
    one, neither is touched."""
    bundle = "/var/lib/colony/colonies/web/etc/ca-bundle.pem"
    system = "/etc/ssl/certs/ca-certificates.crt"
    view = View(
        state_dir="/var/lib/colony",
        tmp="/var/lib/colony/colonies/web/volume/tmp",
        own=("/var/lib/colony/colonies/web/volume/data",),
        ca_bundle=bundle,
        system_bundle=system,
    )
    ops = plan_view(view)
    binds = [Bind(bundle, CA_BUNDLE, True), Bind(bundle, system, True)]
    writable = [i for i, op in enumerate(ops) if isinstance(op, Bind) and not op.readonly]
    assert all(ops.index(b) < min(writable) for b in binds)
    bare = plan_view(View(state_dir="/var/lib/colony", tmp="/t", system_bundle=system))
    assert not any(isinstance(op, Bind) and op.target in (CA_BUNDLE, system) for op in bare)
