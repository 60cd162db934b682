"""The example council config, edited in one place and refused by the loader: the shared
start of every "a bad setting is located and named" test."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_bridge.config.loader import load_config
from crm_bridge.errors import ConfigError

__all__ = ["EXAMPLE", "refused_edit"]

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def refused_edit(folder: Path, old: str, new: str) -> tuple[Path, str, list[str]]:
    """Write the example with ``old`` (exactly once in it) replaced by ``new`` into
    ``folder``, load it, and return the file, its text and the loader's error lines."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    return path, text, str(info.value).splitlines()
