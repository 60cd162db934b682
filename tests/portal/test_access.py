"""Controllers in practice: the sharing question names who will see the enquiry, staff
accounts are confined to a configured staff group, role grants and CLI reads are audited,
and `crm-bridge audit` answers a DPO's questions (council and users: portal_support)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner, Result
from sqlalchemy import select

from crm_bridge.access.audit import cli_login
from crm_bridge.cli import cli
from crm_bridge.store.tables import audit_log
from portal.portal_support import SEEDS, Client, Seeded


def _cli(portal: Seeded, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(portal.bridge.loaded.path), *args],
                              input=input, env={"CRM_BRIDGE_CONFIG": None})


def test_councillor_is_asked_about_their_ward_colleagues_by_name(
        clients: dict[str, Client]) -> None:
    page = clients["kirsty"].get("/enquiries/new").text
    assert ("Share with the other councillors for Clackmannanshire North (Iain Tennant, "
            "Shona Carmichael and Callum Menzies)?") in page


def test_member_with_an_arrangement_is_asked_about_those_members(
        clients: dict[str, Client]) -> None:
    assert "Share with Kirsty Dalgleish?" in clients["eilidh"].get("/enquiries/new").text


def test_mp_without_an_arrangement_is_not_asked_and_cannot_share(
        portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["angus"]
    page = client.get("/enquiries/new").text
    assert 'name="consent" type="radio"' not in page
    assert "seen only by them and the members’ services staff working for them" in page
    refused = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "category": "parks", "name": "Kenneth No-Share", "description": "Gate broken",
        "consent": True})
    assert refused.status_code == 422
    assert "shared with no one" in refused.json()["detail"]["consent"]
    logged = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "category": "parks", "name": "Kenneth No-Share", "description": "Gate broken",
        "consent": False})
    assert logged.status_code == 201
    # The CLI asks the same way and refuses the same "yes".
    cli_refused = _cli(portal, "enquiry", "add", "--member", "mp-angus-tulloch",
                       "--category", "parks", "--description", "Gate", "--name", "Lorna X",
                       "--consent")
    assert cli_refused.exit_code == 2
    assert "--consent" in cli_refused.output and "shared with no one" in cli_refused.output
    asked = _cli(portal, "enquiry", "add", "--member", "cllr-morag-kinnaird",
                 "--category", "parks", "--description", "Gate", "--name", "Lorna X")
    assert asked.exit_code == 2
    assert ("Share with the other councillors for Clackmannanshire West (Alasdair Baird, "
            "Fiona Rennie and Euan Lochhead)?") in asked.output


def test_staff_form_names_who_sees_it_for_each_member(clients: dict[str, Client]) -> None:
    page = clients["staff"].get("/enquiries/new").text
    assert "Morag Kinnaird: the other councillors for Clackmannanshire West" in page
    assert "mp-angus-tulloch" not in page  # not a member members-services works for
    office = clients["mpoffice"].get("/enquiries/new?member=mp-angus-tulloch").text
    assert "Enquiries for Angus Tulloch MP are seen only by them" in office


def test_staff_cannot_log_or_reassign_outside_their_group(
        portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["staff"]
    logged = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "member": "mp-angus-tulloch", "category": "parks", "name": "Mairi Outside",
        "description": "Bench", "consent": False})
    assert logged.status_code == 422 and "member" in logged.json()["detail"]
    moved = client.post("/reassign", data={"csrf_token": client.csrf,
                                           "from_member": "mp-angus-tulloch",
                                           "to_member": "cllr-kirsty-dalgleish"})
    assert moved.status_code == 400
    assert client.get(f"/enquiries/{portal.refs['mp_private']}").status_code == 404


def _rows(portal: Seeded, **where: str) -> list[dict[str, object]]:
    query = select(audit_log)
    for column, value in where.items():
        query = query.where(audit_log.c[column] == value)
    with portal.bridge.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(audit_log.c.id))]


def test_role_grants_are_audited_with_role_and_group(portal: Seeded,
                                                     clients: dict[str, Client]) -> None:
    admin = clients["admin"]
    refused = admin.post("/users", data={"csrf_token": admin.csrf, "username": "wide",
                                         "role": "staff", "group": "",
                                         "password": "long enough pw"})
    assert refused.status_code == 400 and "--group" not in refused.text
    assert "Select the staff group" in refused.text
    added = admin.post("/users", data={"csrf_token": admin.csrf, "username": "office2",
                                       "role": "staff", "group": "mp-office",
                                       "password": "long enough pw"})
    assert added.status_code == 303
    [grant] = _rows(portal, target_user="office2")
    assert (grant["actor"], grant["via"], grant["action"]) == ("admin", "portal", "user_added")
    assert grant["detail"] == "role staff, staff group mp-office"
    made = _cli(portal, "user", "add", "office3", "--role", "staff", "--group", "mp-ofice",
                "--password-stdin", input="long enough pw\n")
    assert made.exit_code == 2 and "did you mean 'mp-office'" in made.output
    made = _cli(portal, "user", "add", "office3", "--role", "staff", "--group", "mp-office",
                "--password-stdin", input="long enough pw\n")
    assert made.exit_code == 0, made.output
    [grant] = _rows(portal, target_user="office3")
    assert (grant["actor"], grant["via"]) == (cli_login(), cli_login())
    assert grant["detail"] == "role staff, staff group mp-office"


def test_audit_command(portal: Seeded, clients: dict[str, Client]) -> None:
    key = "colleague_shared"
    ref = portal.refs[key]
    assert clients["iain"].get(f"/enquiries/{ref}").status_code == 200
    assert _cli(portal, "enquiry", "show", ref, "--as", "kirsty").exit_code == 0
    shown = _cli(portal, "audit", "--enquiry", ref, "--json")
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert {"actor": "iain", "via": "portal", "action": "viewed"}.items() <= rows[-2].items()
    assert {"actor": "kirsty", "via": cli_login(), "action": "viewed"}.items() <= \
        rows[-1].items()
    assert all(r["reference"] == ref for r in rows)
    assert SEEDS[key][2] not in shown.output  # the trail names enquiries, not constituents
    # Reading the trail is itself in the trail.
    again = json.loads(_cli(portal, "audit", "--enquiry", ref, "--json").output)
    assert again[-1]["action"] == "audit_read" and again[-1]["actor"] == cli_login()
    by_user = json.loads(_cli(portal, "audit", "--user", "iain", "--json").output)
    assert by_user and all(r["actor"] == "iain" or r["target_user"] == "iain"
                           for r in by_user)
    today = datetime.now(UTC).date()
    window = _cli(portal, "audit", "--from", str(today - timedelta(days=1)), "--to",
                  str(today + timedelta(days=1)))
    assert window.exit_code == 0 and ref in window.output
    empty = _cli(portal, "audit", "--from", "2001-01-01", "--to", "2001-01-02")
    assert empty.exit_code == 0 and "no audit rows match" in empty.output
    for args, says in ((["audit"], "--enquiry"), (["audit", "--from", "1 May"], "--from"),
                       (["audit", "--from", "2026-05-02", "--to", "2026-05-01"], "--to"),
                       (["audit", "--enquiry", "ENQ-1999-000001"], "no enquiry")):
        bad = _cli(portal, *args)
        assert bad.exit_code == 2 and says in bad.output and "Traceback" not in bad.output


def test_enquiry_page_says_who_it_is_shared_with(portal: Seeded,
                                                 clients: dict[str, Client]) -> None:
    def shared(user: str, key: str) -> str:
        page = clients[user].get(f"/enquiries/{portal.refs[key]}").text
        return page.split(">Shared</dt>", 1)[1].split("</dd>", 1)[0]

    assert "Shared with Kirsty Dalgleish" in shared("eilidh", "msp_shared")
    assert "Shared with ward colleagues" in shared("kirsty", "colleague_shared")
    # Consent recorded, but the MP shares with no one: it is not shared.
    assert "Not shared" in shared("angus", "mp_shared")
    described = _cli(portal, "enquiry", "show", portal.refs["msp_shared"])
    assert "consent:      shared with Kirsty Dalgleish\n" in described.output


def test_officer_show_is_audited_as_a_view_of_the_enquiry(portal: Seeded) -> None:
    """The embedded CRM's case holds the constituent's details: showing it is a read."""
    assert _cli(portal, "sync", "--only", "push").exit_code == 0
    queue = json.loads(_cli(portal, "officer", "queue", "--json").output)
    [case] = [c for c in queue if c["external_ref"] == portal.ids["msp_private"]]
    shown = _cli(portal, "officer", "show", case["case_ref"])
    assert shown.exit_code == 0, shown.output
    last = _rows(portal, enquiry_id=portal.ids["msp_private"])[-1]
    assert (last["actor"], last["via"], last["action"]) == (cli_login(), cli_login(), "viewed")
    assert last["detail"] == f"cli officer show {case['case_ref']}"


def test_duplicates_count_only_ward_colleagues_hidden_matches(
        portal: Seeded, clients: dict[str, Client]) -> None:
    """Iain's private missed bin and the MP's private pothole are both in Clackmannanshire
    North; Kirsty is told a colleague has a match she may not see, never of the MP's."""
    def dupes(category: str, location: str) -> dict[str, object]:
        client = clients["kirsty"]
        got = client.post("/api/duplicates", headers={"X-CSRF-Token": client.csrf}, json={
            "category": category, "location": location,
            "description": "Please look into it"})
        assert got.status_code == 200
        return dict(got.json())

    colleague = dupes("missed-bin", "Ochil Street, Tillicoultry")  # colleague_private
    assert colleague["hidden"] == 1 and colleague["same_issue"] == []
    mp = dupes("pothole", "Stirling Street, Tillicoultry")  # mp_private
    assert mp == {"same_issue": [], "same_person": [], "hidden": 0}
    # The draft goes in the body, never the URL; a category that does not exist is named.
    client = clients["kirsty"]
    assert client.get("/api/duplicates", params={"category": "pothole"}).status_code == 405
    bad = client.post("/api/duplicates", headers={"X-CSRF-Token": client.csrf},
                      json={"category": "pothol"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == {"category": "unknown category 'pothol' (did you mean "
                                    "'pothole'?)"}
    forged = client.post("/api/duplicates", json={"category": "pothole"})
    assert forged.status_code == 403
