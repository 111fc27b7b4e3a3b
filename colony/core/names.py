"""Colony and service names, apart from the model (:mod:`colony.core.model`, which
re-exports them) so that ``colony show NAME`` checks one without loading it (issue 15).

Example:
    >>> check_name("web")
    'web'
"""

from __future__ import annotations

import re

from colony.errors import ConfigError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_name(name: object, what: str = "colony name") -> str:
    """Return ``name`` if it is a valid colony or service name, else raise ConfigError.

    Names become DNS labels of preview URLs and parts of kernel object names, so they are
    lowercase letters, digits and '-', at most 63 characters, not starting or ending with '-'.
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = repr(name[:40] + "…") if isinstance(name, str) and len(name) > 40 else repr(name)
        raise ConfigError(
            f"{what}: expected lowercase letters, digits and '-' (1-63, not starting or ending "
            f"with '-'), got {shown}"
        )
    return name
