"""The shipped ``rest`` mappings (RT 5, Dynamics 365) through `crm-bridge check-config`: each
is accepted as shipped, and a mistake an administrator makes editing one is refused in one
line naming the field and the fix, with exit 2 and nothing written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cli_support import run_process

EXAMPLE_CONNECTOR = """connector:
  type: local
  # local: the SQLite file holding the cases (beside this file if relative).
  path: local-crm.db"""

CONNECTORS = {
    "rest-rt": """connector:
  type: rest
  mapping: mappings/rest-rt.yaml
  url: https://rt.council.example/REST/2.0
  token: ${RT_TOKEN:-}""",
    "rest-dynamics": """connector:
  type: rest
  mapping: mappings/rest-dynamics.yaml
  url: https://council.crm11.dynamics.com/api/data/v9.2
  oauth2:
    token_url: https://login.microsoftonline.com/tenant-id/oauth2/v2.0/token
    client_id: crm-bridge-app
    client_secret: ${CRM_CLIENT_SECRET:-}
    scope: https://council.crm11.dynamics.com/.default""",
}
SECRETS = {"RT_TOKEN": "rt-token-value", "CRM_CLIENT_SECRET": "client-secret-value"}


def use(council_dir: Path, mapping: str) -> Path:
    config = council_dir / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count(EXAMPLE_CONNECTOR) == 1, "the example's connector block has changed"
    config.write_text(text.replace(EXAMPLE_CONNECTOR, CONNECTORS[mapping]), encoding="utf-8")
    return config


def edit(council_dir: Path, mapping: str, old: str, new: str) -> None:
    path = council_dir / "mappings" / f"{mapping}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mapping", sorted(CONNECTORS))
def test_the_shipped_mapping_is_accepted(council_dir: Path, mapping: str) -> None:
    config = use(council_dir, mapping)
    done = run_process(["--config", str(config), "check-config"], cwd=council_dir,
                       env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert "connector 'rest'" in done.stdout
    assert SECRETS["RT_TOKEN"] not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("mapping", "old", "new", "words"),
    [
        pytest.param("rest-rt", 'result: "CustomFields[name=Enquiry ID][0].values[0]"',
                     'result: "CustomFields[name=Enquiry ID[0].values[0]"',
                     "lookups.ticket_ref.result: bad JSON path "
                     "'CustomFields[name=Enquiry ID[0].values[0]': a '[' inside",
                     id="bad-json-path"),
        pytest.param("rest-dynamics", "status: statuscode\n    response",
                     "status: statuscode|upper\n    response",
                     "updates.event.status: bad JSON path 'statuscode|upper': unknown "
                     "transform '|upper' (choose from: base64, trim)", id="unknown-transform"),
        pytest.param("rest-rt", "= '{external_ref}'\"", "= 'x'\"",
                     "endpoints: find must use {external_ref} in its path or query",
                     id="missing-placeholder"),
        pytest.param("rest-dynamics", "modifiedon gt {since} and", "modifiedon gt 2026 and",
                     "endpoints: updates must use {since}", id="updates-without-cursor"),
        pytest.param("rest-dynamics", "  next_kind: link", "  next_knd: link",
                     "updates.next_knd: unknown key 'next_knd' (did you mean 'next_kind'?)",
                     id="unknown-key"),
        pytest.param("rest-dynamics", '"5": responded ', '"5": solved ',
                     "statuses.5: must be one of 'logged', 'sent', 'acknowledged'",
                     id="unknown-bridge-status"),
        pytest.param("rest-rt", 'external_ref: "ObjectId>ticket_ref"',
                     'external_ref: "ObjectId>ticket"',
                     "updates: event.external_ref: 'ObjectId>ticket' uses unknown lookup "
                     "'ticket' (did you mean 'ticket_ref'?); define it under lookups",
                     id="unknown-lookup"),
        pytest.param("rest-rt", 'path: "/transaction/{value}/attachments"',
                     'path: "/transaction/{case_id}/attachments"',
                     "lookups: reply_text.endpoint must use {value} and nothing else",
                     id="lookup-without-value"),
        pytest.param("rest-dynamics", 'title: "{reference}: {category}"',
                     'title: "{reference}: {categroy}"',
                     "unknown placeholder 'categroy' (did you mean 'category'?)",
                     id="unknown-placeholder"),
        pytest.param("rest-dynamics", 'created_id_pattern: "\\\\(([0-9a-fA-F-]+)\\\\)$"',
                     'created_id_pattern: "incidents"',
                     "created_id_pattern: must have one (group): the id", id="no-group"),
        pytest.param("rest-dynamics", "\"'objectid_incident@odata.bind'\"",
                     "\"'objectid_incident@odata.bind\"",
                     "bad field name ''objectid_incident@odata.bind': a quote is opened and "
                     "never closed", id="unclosed-quote-in-a-field-name"),
        pytest.param("rest-dynamics", 'headers: {Prefer: "odata.maxpagesize=100"}',
                     'headers: {Authorization: "Bearer abc"}',
                     "endpoints.updates.headers: 'Authorization' may not be set here: a "
                     "secret never sits in a mapping", id="secret-in-a-header"),
        pytest.param("rest-rt", "  page_size: 100", "  page_size: 0",
                     "updates.page_size: Input should be greater than or equal to 1 (got 0)",
                     id="page-size"),
    ],
)
def test_a_mapping_mistake_is_refused_by_check_config(
        council_dir: Path, mapping: str, old: str, new: str, words: str) -> None:
    config = use(council_dir, mapping)
    edit(council_dir, mapping, old, new)
    before = files(council_dir)

    done = run_process(["--config", str(config), "check-config"], cwd=council_dir,
                       env=SECRETS)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert f"mappings/{mapping}.yaml:" in done.stderr
    assert words in done.stderr
    assert files(council_dir) == before


def test_an_oauth2_mapping_without_oauth2_settings_is_refused(council_dir: Path) -> None:
    config = use(council_dir, "rest-dynamics")
    text = config.read_text(encoding="utf-8")
    start = text.index("  oauth2:")
    end = text.index("/.default", start) + len("/.default")
    config.write_text(text[:start] + "  token: ${CRM_TOKEN:-}" + text[end:], encoding="utf-8")

    done = run_process(["--config", str(config), "check-config"], cwd=council_dir,
                       env=SECRETS)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1
    assert "connector.oauth2: the mapping's auth kind is oauth2; give token_url, client_id " \
           "and client_secret" in done.stderr


def test_an_unset_client_secret_is_refused(council_dir: Path) -> None:
    config = use(council_dir, "rest-dynamics")
    done = run_process(["--config", str(config), "check-config"], cwd=council_dir,
                       env={"RT_TOKEN": "x", "CRM_CLIENT_SECRET": ""})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "connector.oauth2.client_secret" in done.stderr
    assert "${CRM_CLIENT_SECRET}" in done.stderr
