"""Finding connectors by name, and checking their settings and mapping files with located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.local import LocalConnector, LocalMapping
from crm_bridge.config import load_config
from crm_bridge.errors import ConfigError
from crm_bridge.models import Status
from crm_bridge.registry import available, connector_class, load_mapping, open_connector


def line_of(path: Path, needle: str) -> int:
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if needle in line]
    assert len(hits) == 1, f"{needle!r} in {path}: {hits}"
    return hits[0]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"expected exactly one {old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_local_is_found_through_its_entry_point() -> None:
    assert "local" in available()
    assert connector_class("local") is LocalConnector


def test_a_misspelt_connector_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        connector_class("locall")
    assert str(info.value) == "unknown connector 'locall' (did you mean 'local'?)"


def test_an_unknown_connector_setting_is_located_with_did_you_mean(council_dir: Path) -> None:
    config = council_dir / "config.yaml"
    edit(config, "  path: local-crm.db\n", "  pth: local-crm.db\n")
    loaded = load_config(config)

    with pytest.raises(ConfigError) as info:
        open_connector(loaded)

    line = line_of(config, "pth: local-crm.db")
    assert [str(issue) for issue in info.value.issues] == [
        f"{config}:{line} connector.pth: unknown key 'pth' (did you mean 'path'?)"]
    assert not (council_dir / "local-crm.db").exists()  # nothing opened on bad settings


def test_the_shipped_mapping_loads(council_dir: Path) -> None:
    mapping = load_mapping(load_config(council_dir / "config.yaml"), LocalConnector)
    assert isinstance(mapping, LocalMapping)
    assert mapping.bridge_status("resolved") is Status.RESPONDED
    assert mapping.bridge_status("Closed") is Status.CLOSED
    assert mapping.bridge_status("escalated") is None


def test_a_status_mapped_to_no_bridge_status_names_the_mapping_file_and_line(
    council_dir: Path,
) -> None:
    mapping = council_dir / "mappings" / "local.yaml"
    edit(mapping, "  resolved: responded\n", "  resolved: done\n")
    loaded = load_config(council_dir / "config.yaml")

    with pytest.raises(ConfigError) as info:
        load_mapping(loaded, LocalConnector)

    [issue] = info.value.issues
    assert (Path(issue.file), issue.line, issue.path) == (
        mapping, line_of(mapping, "resolved: done"), "statuses.resolved")
    assert "(got 'done')" in issue.message
    assert "'responded'" in issue.message
    with pytest.raises(ConfigError, match=r"local\.yaml:\d+ statuses\.resolved"):
        open_connector(loaded)


def test_a_mapping_with_an_unknown_key_is_refused(council_dir: Path) -> None:
    mapping = council_dir / "mappings" / "local.yaml"
    edit(mapping, "title: ", "titel: ")
    with pytest.raises(ConfigError) as info:
        load_mapping(load_config(council_dir / "config.yaml"), LocalConnector)
    assert [issue.message for issue in info.value.issues] == [
        "unknown key 'titel' (did you mean 'title'?)"]
