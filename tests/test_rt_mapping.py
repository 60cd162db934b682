"""`check-config` on a council switched to `rt`: mistakes in mappings/rt.yaml are found before
any sync, at their line, in words the IT admin can act on. (No RT needed: nothing connects.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Council, make_council

LOCAL_CONNECTOR = ("connector:\n  type: local\n  # local: the SQLite file holding the cases "
                   "(beside this file if relative).\n  path: local-crm.db\n")


@pytest.fixture
def council(tmp_path: Path) -> Council:
    made = make_council(tmp_path)
    made.edit("config.yaml", LOCAL_CONNECTOR,
              "connector:\n  type: rt\n  url: https://rt.example\n  token: ${RT_TOKEN:-}\n")
    return made


def _check(council: Council) -> tuple[int, str]:
    result = council.cli("check-config")
    return result.exit_code, result.output


def test_the_shipped_mapping_passes_with_a_token_from_the_environment(
        council: Council, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_TOKEN", "1-27-abc")
    code, output = _check(council)
    assert code == 0, output
    assert "connector 'rt'" in output


@pytest.mark.parametrize(("old", "new", "words"), [
    ('subject: "{reference}: {category} - {location}"', 'subject: "{reference}: {categry}"',
     "subject: unknown field 'categry' in the subject: use {reference}, {category}"),
    ("  external_id: {name: Enquiry ID, description: \"crm-bridge's id for the enquiry; do not "
     "edit\"}\n", "",
     "custom_fields needs external_id: the bridge finds its tickets by it"),
    ("  ward:        {name: Ward}", "  ward:        {name: 'Ward {x}'}",
     "custom_fields.ward.name: may use only letters, digits, spaces and _ . , ( ) / & -"),
    ("  ward:        {name: Ward}", "  ward:        {name: Elected member}",
     "custom_fields gives the RT name 'Elected member' to two fields"),
    ("  member:      {name: Elected member}", "  councillor:  {name: Elected member}",
     "custom_fields.councillor"),
])
def test_a_mistake_in_the_mapping_is_named_at_its_line(
        council: Council, monkeypatch: pytest.MonkeyPatch, old: str, new: str,
        words: str) -> None:
    monkeypatch.setenv("RT_TOKEN", "1-27-abc")
    council.edit("mappings/rt.yaml", old, new)
    code, output = _check(council)
    assert code == 2
    assert "mappings/rt.yaml:" in output and words in output


def test_a_missing_login_is_named_at_the_connector(council: Council) -> None:
    code, output = _check(council)  # RT_TOKEN unset: ${RT_TOKEN:-} gives no token
    assert code == 2
    assert "connector: give token: ${RT_TOKEN}, or username: with password: ${RT_PASSWORD}" \
        in output
