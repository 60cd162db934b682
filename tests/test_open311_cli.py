"""The open311 connector from the command line: `check-config` takes its settings (the
api_key from the environment, a bad key named with its fix) and `connector check` gives
the admin one line per service of the example council."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cli_support import invoke
from support.open311_double import open311_double
from sync.council import configure

KEY_VARIABLE = "OPEN311_API_KEY"


def _use(config: Path, url: str, **settings: object) -> None:
    configure(config, replace={"connector": {
        "type": "open311", "url": url, "api_key": f"${{{KEY_VARIABLE}}}",
        "jurisdiction_id": "council", **settings}})


def test_check_config_takes_the_settings_and_names_a_bad_one(config_file: Path) -> None:
    _use(config_file, "https://open311.council.example/open311/v2")
    done = invoke(["--config", str(config_file), "check-config"], env={KEY_VARIABLE: "k"})
    assert done.exit_code == 0, done.output

    _use(config_file, "https://open311.council.example/open311/v2",
         contact_fields=["email", "date_of_birth"])
    done = invoke(["--config", str(config_file), "check-config"], env={KEY_VARIABLE: "k"})
    assert done.exit_code == 2
    assert "connector.contact_fields" in done.output and "date_of_birth" in done.output


def test_connector_check_names_each_service_to_fix(config_file: Path) -> None:
    with open311_double() as server:
        _use(config_file, server.url)
        done = invoke(["--config", str(config_file), "connector", "check"],
                      env={KEY_VARIABLE: server.api_key})
    assert done.exit_code == 1, done.output
    assert "offers 2 service(s)" in done.output
    assert "'SL', which the server does not offer; it offers GR, POT" in done.output
    assert "service code 'POT' (Pothole), which has no attributes" in done.output
    assert ("service code 'GR' (Graffiti) requires attribute(s) fixmystreet_id, service, "
            "usrn, which the mapping leaves empty") in done.output


def test_the_xml_format_without_lxml_names_the_extra(config_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lxml.etree", None)  # as if lxml were not installed
    _use(config_file, "https://open311.council.example/open311/v2", format="xml")
    done = invoke(["--config", str(config_file), "check-config"], env={KEY_VARIABLE: "k"})
    assert done.exit_code == 2
    assert ("connector.format: the XML format needs lxml: pip install "
            "'crm-bridge[open311]'") in done.output
