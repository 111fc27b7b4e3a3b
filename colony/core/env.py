"""The environment a colony's processes see: pure, from the colony's facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Host variables passed through; everything else of the daemon's environment stays out.
PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TERM", "HOME", "USER", "LOGNAME", "SHELL")


def port_var(service: str) -> str:
    return "COLONY_PORT_" + service.upper().replace("-", "_")


def plan_env(
    *,
    host_env: Mapping[str, str],
    name: str,
    data_dir: str,
    db: str,
    address: str | None,
    ports: Iterable[tuple[str, int | None]],
    service_port: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the environment of one process of a colony.

    Example:
        >>> env = plan_env(host_env={"PATH": "/bin"}, name="web", data_dir="/d", db="/d/c.db",
        ...                address=None, ports=[("api", 8000)], service_port=8000)
        >>> env["COLONY_NAME"], env["PORT"], env["COLONY_PORT_API"], env["DATABASE_URL"]
        ('web', '8000', '8000', 'sqlite:////d/c.db')
    """
    env = {k: host_env[k] for k in PASSTHROUGH if k in host_env}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        COLONY="1",
        COLONY_NAME=name,
        COLONY_DATA_DIR=data_dir,
        COLONY_DB=db,
        DATABASE_URL=f"sqlite:///{db}",
    )
    if address:
        env["COLONY_ADDRESS"] = address
    for service, port in ports:
        if port is not None:
            env[port_var(service)] = str(port)
    if service_port is not None:
        env["PORT"] = str(service_port)
    env.update(extra or {})
    return env
