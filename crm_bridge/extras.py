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


def _extras(distribution: str) -> dict[str, list[str]]:
    """Each extra of the installed ``distribution`` and the packages it requires."""
    try:
        requirements = requires(distribution) or []
    except PackageNotFoundError:
        return {}
    extras: dict[str, list[str]] = {}
    for requirement in requirements:
        name, extra = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and extra:
            extras.setdefault(extra.group(1), []).append(name.group(0))
    return extras


def extra_providing(distribution: str, module: str, prefer: str | None = None) -> str | None:
    """The extra of ``distribution`` that requires a package named like ``module``: ``prefer``
    (the part's own extra, e.g. the connector's name) when it is one of them; else, of
    several (``dev`` pulls in everything), the smallest, which is the one made for it."""
    extras = _extras(distribution)
    providing = [extra for extra, names in extras.items()
                 if _normal(module) in {_normal(name) for name in names}]
    if prefer is not None and prefer in providing:
        return prefer
    return min(providing, key=lambda e: (len(extras[e]), e)) if providing else None


def missing_extra(what: str, exc: ModuleNotFoundError, distribution: str = "crm-bridge",
                  prefer: str | None = None) -> ConfigError:
    """The error for ``what`` (e.g. "the lagan connector") failing to import ``exc.name``:
    the packages of the extra that provides it (``prefer`` first, see ``extra_providing``),
    and the command that installs them."""
    module = (exc.name or "").split(".")[0]
    extra = extra_providing(distribution, module, prefer) if module else None
    if extra:
        names = sorted(_extras(distribution)[extra], key=lambda n: _normal(n) != _normal(module))
        return ConfigError(f"{what} needs {' and '.join(names)}: "
                           f"pip install '{distribution}[{extra}]'")
    return ConfigError(f"{what} cannot be loaded ({exc}): reinstall {distribution} "
                       "with its dependencies")
