"""The demo's folder: made like `crm-bridge init` makes one, and emptied before each run.

The demo deletes the folder's databases, so it marks the folder as its own
and refuses a folder that holds someone's real config or store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from crm_bridge.app import Bridge
from crm_bridge.errors import ConfigError
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.migrate import upgrade

__all__ = ["MARKER", "prepare"]

MARKER = ".crm-bridge-demo"
_MARKER_TEXT = (
    "This folder was made by `crm-bridge demo`. Running the demo again deletes its\n"
    "databases and starts afresh; delete this file to keep the folder from the demo.\n"
)
_DATABASE_GLOBS = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal")


def _refuse_if_not_ours(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--dir: {directory} is a file, not a folder")
    if not directory.is_dir() or (directory / MARKER).exists():
        return
    config = directory / "config.yaml"
    databases = [p for glob in _DATABASE_GLOBS for p in directory.glob(glob)]
    if config.exists() or databases:
        found = config if config.exists() else databases[0]
        raise ConfigError(
            f"--dir: {directory} holds {found.name}, which the demo did not make; the demo "
            "deletes its folder's databases, so give it a new or empty folder"
        )


def _mail_into_folder(config: Path) -> None:
    """The demo has no mail server: its reminders are written to DIR/mail/ as .eml files."""
    text = config.read_text(encoding="utf-8")
    line = "  transport: smtp\n"
    if line not in text:
        raise ConfigError(f"{config}: the example config no longer has '{line.strip()}'")
    config.write_text(text.replace(line, "  transport: folder\n", 1), encoding="utf-8")


def prepare(directory: Path) -> Path:
    """A fresh demo council in ``directory``: example config, mappings, empty stores.

    Returns the config file's path.
    """
    _refuse_if_not_ours(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    for glob in _DATABASE_GLOBS:
        for path in directory.glob(glob):
            path.unlink()
    target = directory / "config.yaml"
    shutil.copyfile(example_config(), target)
    _mail_into_folder(target)
    shutil.rmtree(directory / "mail", ignore_errors=True)
    mappings = directory / "mappings"
    mappings.mkdir(exist_ok=True)
    for source in sorted(shipped_mappings().glob("*.yaml")):
        shutil.copyfile(source, mappings / source.name)
    bridge = Bridge.open(target, check_schema=False)
    try:
        bridge.check_connector()
        upgrade(bridge.engine)
    finally:
        bridge.close()
    return target
