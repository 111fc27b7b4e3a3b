"""The environment a colony's processes see: pure, from the colony's facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Host variables passed through; everything else of the daemon's environment stays out. PATH
# is the colony's own (issue 10): the daemon's may name root's tools (pyenv, cargo).
PASSTHROUGH = ("LANG", "LC_ALL", "TZ", "TERM")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def port_var(service: str) -> str:
    return "COLONY_PORT_" + service.upper().replace("-", "_")


def plan_env(
    *,
    host_env: Mapping[str, str],
    own: Mapping[str, str],
    name: str,
    data_dir: str,
    db: str,
    address: str | None,
    ports: Iterable[tuple[str, int | None]],
    service_port: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the environment of one process of a colony.

    ``host_env`` is the daemon's environment (only :data:`PASSTHROUGH` is taken from it);
    ``own`` the colony's PATH and its user's HOME, USER, LOGNAME and SHELL.

    Example:
        >>> env = plan_env(host_env={"PATH": "/root/bin"}, own={"HOME": "/h"}, name="web",
        ...                data_dir="/d", db="/d/c.db", address=None, ports=[("api", 8000)],
        ...                service_port=8000)
        >>> env["COLONY_NAME"], env["PORT"], env["COLONY_PORT_API"], env["DATABASE_URL"]
        ('web', '8000', '8000', 'sqlite:////d/c.db')
    """
    env = {k: host_env[k] for k in PASSTHROUGH if k in host_env}
    env["PATH"] = DEFAULT_PATH
    env.update(own)
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
