"""Optional parts installed as extras, and the one line that names a missing one.

The PostgreSQL driver and the Lagan connector's SOAP stack are extras
(``pip install 'crm-bridge[postgres]'``, ``'crm-bridge[lagan]'``), so a council on the
embedded default does not install them. When a config names a part whose package is
missing, the admin gets the install command, not an ImportError's traceback. The extra is
read from the installed package's own metadata, so it cannot drift from pyproject.toml, and
a council's own connector package gets the same treatment.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires

from crm_bridge.errors import ConfigError

__all__ = ["extra_providing", "missing_extra"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_providing(distribution: str, module: str) -> str | None:
    """The extra of ``distribution`` that requires a package named like ``module``; of
    several (``dev`` pulls in everything), the smallest, which is the one made for it."""
    try:
        requirements = requires(distribution) or []
    except PackageNotFoundError:
        return None
    sizes: dict[str, int] = {}
    providing: set[str] = set()
    for requirement in requirements:
        name, extra = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and extra:
            sizes[extra.group(1)] = sizes.get(extra.group(1), 0) + 1
            if _normal(name.group(0)) == _normal(module):
                providing.add(extra.group(1))
    return min(providing, key=lambda e: (sizes[e], e)) if providing else None


def missing_extra(what: str, exc: ModuleNotFoundError,
                  distribution: str = "crm-bridge") -> ConfigError:
    """The error for ``what`` (e.g. "the lagan connector") failing to import ``exc.name``."""
    module = (exc.name or "").split(".")[0]
    extra = extra_providing(distribution, module) if module else None
    if extra:
        return ConfigError(f"{what} needs {module}: pip install '{distribution}[{extra}]'")
    return ConfigError(f"{what} cannot be loaded ({exc}): reinstall {distribution} "
                       "with its dependencies")
