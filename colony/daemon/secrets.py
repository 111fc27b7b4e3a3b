"""Mycelium's store of colony secrets (issue 17): one file per colony, root's, mode 0600, in
the state directory's ``secrets/`` (mode 0700), which no colony's view shows.

A secret is set per colony and key (``colony secret set``, or colony.toml's ``[secrets.KEY]``
with ``from_env`` at spawn). Its placeholder is made once per colony and key and kept when
the value is set again, so a rotated value takes effect at the next request without
restarting the colony. Values are never logged, audited or published: events carry the key
and hosts only.

Example:
    >>> store = SecretStore(Path("/var/lib/colony/secrets"))  # doctest: +SKIP
    >>> store.set("web", check_secret("API_KEY", "v", ["api.example.com"], None))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from colony.core.bus_events import SecretEvent
from colony.core.secrets import (
    PRESET_KEYS,
    Secret,
    SecretSpec,
    check_key,
    check_secret,
    new_placeholder,
    public_list,
)
from colony.errors import NotFound

log = logging.getLogger("colony.secrets")


class SecretStore:
    """Secrets of every colony, kept in memory and written through to ``root/<colony>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, dict[str, Secret]] = {}
        self._lock = threading.Lock()

    def _path(self, colony: str) -> Path:
        return self.root / f"{colony}.json"

    def of(self, colony: str) -> dict[str, Secret]:
        """The secrets of ``colony`` by key (empty when it has none)."""
        with self._lock:
            got = self._cache.get(colony)
            if got is None:
                got = self._cache[colony] = self._read(colony)
            return dict(got)

    def set(self, colony: str, spec: SecretSpec) -> Secret:
        """Store ``spec`` for ``colony``, keeping the placeholder of a key set before."""
        current = self.of(colony)
        old = current.get(spec.key)
        placeholder = old.placeholder if old is not None else new_placeholder()
        secret = Secret(spec.key, spec.value, spec.hosts, spec.header, placeholder)
        current[spec.key] = secret
        self._write(colony, current)
        return secret

    def remove(self, colony: str, key: str) -> None:
        current = self.of(colony)
        if current.pop(key, None) is None:
            raise NotFound(
                f"colony '{colony}' has no secret {key}",
                hint=f"'colony secret ls {colony}' lists its secrets",
            )
        self._write(colony, current)

    def forget(self, colony: str) -> None:
        """Drop every secret of a removed colony."""
        with self._lock:
            self._cache.pop(colony, None)
            self._path(colony).unlink(missing_ok=True)

    def _read(self, colony: str) -> dict[str, Secret]:
        try:
            raw = json.loads(self._path(colony).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("colony %s: cannot read its secrets: %s", colony, type(exc).__name__)
            return {}
        out: dict[str, Secret] = {}
        for key, item in raw.items():
            out[key] = Secret(
                key, item["value"], tuple(item["hosts"]), item.get("header"), item["placeholder"]
            )
        return out

    def _write(self, colony: str, secrets: dict[str, Secret]) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        data = {
            k: {"value": s.value, "hosts": list(s.hosts), "header": s.header,
                "placeholder": s.placeholder}
            for k, s in secrets.items()
        }  # fmt: skip
        path = self._path(colony)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
        with self._lock:
            self._cache[colony] = dict(secrets)


class Secrets:
    """``colony secret``: set, list and remove a colony's secrets; each change an event
    (the audit log) naming the key and hosts, never the value."""

    def __init__(
        self,
        store: SecretStore,
        *,
        exists: Callable[[str], object],
        publish: Callable[[SecretEvent], None],
        clock: Callable[[], float],
        made: Callable[[str], object] = lambda colony: None,
        changed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.changed = changed  # the network gates the secrets' hosts (issue 17)
        self.made = made  # makes the colony's CA and bundle (issue 17) when it has secrets
        self.store = store
        self.exists = exists  # raises NotFound for a colony that does not exist
        self.publish = publish
        self.clock = clock

    def listing(self, colony: str) -> dict[str, Any]:
        self.exists(colony)
        return {"colony": colony, "secrets": public_list(self.store.of(colony))}

    async def set(
        self, colony: str, key: str, value: object, hosts: object, header: object, *, by: str
    ) -> dict[str, Any]:
        self.exists(colony)
        spec = check_secret(key, value, hosts, header)
        self.made(colony)
        secret = self.store.set(colony, spec)
        if self.changed is not None:
            await self.changed(colony)
        self.publish(
            SecretEvent(
                colony=colony, user=by, variable=key, hosts=list(secret.hosts), at=self.clock()
            )
        )
        return {"colony": colony, "secret": secret.public()}

    async def remove(self, colony: str, key: str, *, by: str) -> dict[str, Any]:
        self.exists(colony)
        self.store.remove(colony, check_key(key))
        if self.changed is not None:
            await self.changed(colony)
        self.publish(SecretEvent(colony=colony, user=by, variable=key, hosts=None, at=self.clock()))
        return {"colony": colony, "removed": key}

    async def for_agent(
        self, colony: str, agent: str, env: dict[str, str], *, by: str
    ) -> dict[str, str]:
        """An agent's extra variables with no real value of a secret (issue 17): a key the
        colony has as a secret keeps its placeholder (a forwarded value is dropped), and a
        forwarded value of the preset's key (``ANTHROPIC_API_KEY`` for claude, …) becomes
        the colony's secret for the preset's hosts first."""
        have = self.store.of(colony)
        out = {k: v for k, v in env.items() if k not in have}
        preset = PRESET_KEYS.get(agent)
        if preset is None:
            return out
        key, hosts, header = preset
        value = out.pop(key, None)
        if value is not None:
            await self.set(colony, key, value, list(hosts), header, by=by)
        return out
