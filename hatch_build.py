"""Build hook: every wheel and sdist carries the portal's built front-end assets.

The assets (``crm_bridge/portal/static/vendor/``: the compiled ``portal.css`` and GOV.UK
Frontend's JavaScript) are made by ``scripts/build-assets.sh`` from the npm packages pinned
in ``package-lock.json`` and are not kept in git. Without them ``crm-bridge serve`` refuses
to start, so a package without them is broken.

- From a checkout (``pip install .``, ``python -m build``): when the assets are missing or
  were built from other inputs, this hook runs the script first (npm needed, once).
- From an sdist: the sdist carries the built files and the script's stamp (a hash of its
  inputs: package.json, package-lock.json, the portal's Sass, the script); the stamp
  matches, so nothing is rebuilt and installing it needs no npm.
- Editable installs (``make install``) read the assets from the checkout, where
  ``make assets`` builds them, so they are skipped here.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ASSETS = Path("crm_bridge/portal/static/vendor")
# What `crm-bridge serve` checks for (crm_bridge/portal/factory.py, _REQUIRED_ASSETS).
REQUIRED = ("portal.css", "govuk-frontend.min.js")
SCRIPT = Path("scripts/build-assets.sh")


def inputs_hash(root: Path) -> str:
    """The hash scripts/build-assets.sh writes to its stamp: the same files, in its order."""
    files = [root / "package.json", root / "package-lock.json",
             *sorted((root / "crm_bridge/portal/assets").glob("*.scss")), root / SCRIPT]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def assets_current(root: Path) -> bool:
    """True when the built files are there and were built from the inputs now present."""
    out = root / ASSETS
    stamp = out / ".build-stamp"
    if not stamp.is_file() or not all((out / name).is_file() for name in REQUIRED):
        return False
    return stamp.read_text(encoding="utf-8").strip() == inputs_hash(root)


class PortalAssetsHook(BuildHookInterface):
    """Make sure the assets exist and match the pinned packages before files are collected."""

    PLUGIN_NAME = "portal-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        root = Path(self.root)
        if assets_current(root):
            return
        if shutil.which("npm") is None:
            raise RuntimeError(
                "crm-bridge: the portal's assets are not built and npm is missing: install "
                "Node.js and npm (Debian: apt-get install nodejs npm) and build again, or "
                "install from a released wheel or sdist, which carry them")
        subprocess.run(["bash", str(root / SCRIPT)], cwd=root, check=True)  # noqa: S603,S607
        if not assets_current(root):
            raise RuntimeError(f"crm-bridge: {SCRIPT} ran but {ASSETS} is still not current")
