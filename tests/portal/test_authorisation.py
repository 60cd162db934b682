"""Who sees what, the authorisation matrix: councillors in two wards, an MP, an MSP with a
sharing arrangement, an MEP, staff in two staff groups and an admin, against own / ward colleague /
other ward / MP / MSP enquiries with consent yes and no, on every page, API endpoint and CLI
command that shows or changes an enquiry. The expected table is written out by hand here,
not computed with the policy code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from crm_bridge.access.audit import cli_login
from crm_bridge.cli import cli
from crm_bridge.portal.accounts import UserRole
from crm_bridge.store.tables import audit_log
from portal.portal_support import SEEDS, USERS, Client, Seeded

SEES: dict[str, set[str]] = {
    # Councillors: their own, and their ward colleagues' consented ones in the ward; the MP's
    # consented enquiry filed in Kirsty's ward is the MP's alone (no sharing arrangement).
    "kirsty": {"own_shared", "own_private", "colleague_shared", "msp_shared"},
    "iain": {"colleague_shared", "colleague_private", "own_shared"},
    "morag": {"other_shared", "other_private"},
    # The MP and MSP: their own only; the MSP's consented one is filed in Morag's ward, but
    # only the arrangement's Kirsty sees it.
    "angus": {"mp_shared", "mp_private"},
    "eilidh": {"msp_shared", "msp_private"},
    "morven": {"mep_shared"},
    # Staff: their group's members (members-services: councillors; mp-office: the MP).
    "staff": {"own_shared", "own_private", "colleague_shared", "colleague_private",
              "other_shared", "other_private"},
    "mpoffice": {"mp_shared", "mp_private"},
    "admin": set(),
}

# Follow-up notes: only the member whose enquiry it is, and staff acting for that member.
NOTES: dict[str, set[str]] = {
    "kirsty": {"own_shared", "own_private"},
    "iain": {"colleague_shared", "colleague_private"},
    "morag": {"other_shared", "other_private"},
    "angus": {"mp_shared", "mp_private"},
    "eilidh": {"msp_shared", "msp_private"},
    "morven": {"mep_shared"},
    "staff": SEES["staff"],
    "mpoffice": SEES["mpoffice"],
    "admin": set(),
}
STAFF = [u for u, (role, _) in USERS.items() if role is UserRole.STAFF]

CASES = [(user, key) for user in USERS for key in SEEDS]


def test_the_table_covers_every_case() -> None:
    assert set(SEES) == set(USERS)
    visible_somewhere = set().union(*SEES.values())
    assert visible_somewhere == set(SEEDS)


@pytest.mark.parametrize(("user", "key"), CASES)
def test_enquiry_page_and_api(portal: Seeded, clients: dict[str, Client], user: str,
                              key: str) -> None:
    client, ref = clients[user], portal.refs[key]
    name = SEEDS[key][2]
    page = client.get(f"/enquiries/{ref}")
    api = client.get(f"/api/enquiries/{ref}")
    if key in SEES[user]:
        assert page.status_code == 200 and name in page.text
        assert api.status_code == 200 and api.json()["constituent"]["name"] == name
    else:
        expected = 403 if user == "admin" else 404
        assert page.status_code == expected
        assert name not in page.text
        assert api.status_code == 404 and name not in api.text


@pytest.mark.parametrize(("user", "key"), CASES)
def test_search_page_and_api(portal: Seeded, clients: dict[str, Client], user: str,
                             key: str) -> None:
    client, ref = clients[user], portal.refs[key]
    name = SEEDS[key][2]
    page = client.post("/search", data={"csrf_token": client.csrf, "q": name}, follow=True)
    api = client.post("/api/enquiries/search", json={"q": name},
                      headers={"X-CSRF-Token": client.csrf})
    assert page.status_code == 200
    assert name not in page.url and "t=" in page.url  # the words never go in the address
    if user == "admin":
        assert api.status_code == 403
    else:
        assert api.status_code == 200
        assert (ref in {item["reference"] for item in api.json()["items"]}) == (key in SEES[user])
    assert (ref in page.text) == (key in SEES[user])
    # Once in the search box, and once more in the results when it may be seen.
    assert page.text.count(name) == (2 if key in SEES[user] else 1)


@pytest.mark.parametrize("user", list(USERS))
def test_dashboard_page_and_api(portal: Seeded, clients: dict[str, Client], user: str) -> None:
    client = clients[user]
    page = client.get("/")
    if user == "admin":
        assert page.status_code == 303 and page.headers["location"] == "/users"
        assert client.get("/api/dashboard").status_code == 403
        return
    assert page.status_code == 200
    board = client.get("/api/dashboard").json()
    listed = {item["reference"] for item in (*board["mine"], *board["shared"])}
    for key, ref in portal.refs.items():
        assert (ref in page.text) == (key in SEES[user]), (user, key)
        assert (ref in listed) == (key in SEES[user]), (user, key)


@pytest.mark.parametrize(("user", "key"), CASES)
def test_follow_up_note(portal: Seeded, clients: dict[str, Client], user: str,
                        key: str) -> None:
    client, ref = clients[user], portal.refs[key]
    response = client.post(f"/api/enquiries/{ref}/notes", json={"text": f"note by {user}"},
                           headers={"X-CSRF-Token": client.csrf})
    if key in NOTES[user]:
        assert response.status_code == 202
    elif key in SEES[user]:
        assert response.status_code == 403
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("user", [u for u in USERS if u not in STAFF])
def test_only_staff_reassign(clients: dict[str, Client], user: str) -> None:
    client = clients[user]
    assert client.get("/reassign").status_code == 403
    response = client.post("/reassign", data={"csrf_token": client.csrf,
                                              "from_member": "cllr-iain-tennant",
                                              "to_member": "cllr-kirsty-dalgleish"})
    assert response.status_code == 403


@pytest.mark.parametrize("user", [u for u in USERS if u != "admin"])
def test_only_admins_manage_users(clients: dict[str, Client], user: str) -> None:
    client = clients[user]
    assert client.get("/users").status_code == 403
    response = client.post("/users", data={"csrf_token": client.csrf, "username": "mallory",
                                           "role": "admin", "password": "x" * 12})
    assert response.status_code == 403


def test_members_log_only_as_themselves(portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["kirsty"]
    response = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "member": "cllr-morag-kinnaird", "category": "parks", "name": "Hamish Member-Only",
        "description": "Swings broken", "consent": False})
    assert response.status_code == 201
    shown = client.get(f"/api/enquiries/{response.json()['reference']}").json()
    assert shown["member_id"] == "cllr-kirsty-dalgleish"
    assert clients["admin"].post("/api/enquiries", headers={"X-CSRF-Token":
                                 clients["admin"].csrf}, json={
        "category": "parks", "name": "X", "description": "Y", "consent": False,
    }).status_code == 403


def test_anonymous_sees_nothing(portal: Seeded, anonymous: Client) -> None:
    ref = portal.refs["own_shared"]
    for path in ("/", f"/enquiries/{ref}", "/search?q=Agnes", "/enquiries/new", "/reassign",
                 "/users"):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")
    for path in (f"/api/enquiries/{ref}", "/api/enquiries?q=Agnes", "/api/dashboard"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.post("/api/duplicates", json={"category": "pothole",
                                                   "postcode": "FK10 1AB"}).status_code == 401


def test_every_view_is_audited(portal: Seeded, clients: dict[str, Client]) -> None:
    key = "colleague_shared"

    def views() -> int:
        with portal.bridge.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log).where(
                audit_log.c.actor == "kirsty",
                audit_log.c.enquiry_id == portal.ids[key])).scalar_one())

    before = views()
    client = clients["kirsty"]
    assert client.get(f"/enquiries/{portal.refs[key]}").status_code == 200
    assert client.get(f"/api/enquiries/{portal.refs[key]}").status_code == 200
    assert client.get("/").status_code == 200
    assert client.post("/search", data={"csrf_token": client.csrf, "q": SEEDS[key][2]},
                       follow=True).status_code == 200
    assert views() == before + 4


@pytest.mark.parametrize("user", list(USERS))
def test_sql_and_python_rules_agree(portal: Seeded, user: str) -> None:
    """visible_clause, the union of visible_branches and can_view pick the same rows."""
    from crm_bridge.portal.accounts import find_user
    from crm_bridge.portal.policy import can_view, visible_branches, visible_clause
    from crm_bridge.portal.sessions import load_session, start_session
    from crm_bridge.store.tables import enquiries

    bridge = portal.bridge
    now = datetime.now(UTC)
    with bridge.engine.begin() as conn:
        token = start_session(conn, find_user(conn, user).id, bridge.config.portal, now, "test")
        loaded = load_session(conn, token, bridge.config, now)
    assert isinstance(loaded, tuple)
    who = loaded[0]
    c = enquiries.c
    with bridge.engine.connect() as conn:
        everything = conn.execute(select(c.id, c.member_id, c.ward_id, c.consent_to_share)).all()
        by_clause = set(conn.execute(select(c.id).where(visible_clause(who))).scalars())
        by_branches: list[str] = []
        for branch in visible_branches(who):
            by_branches += conn.execute(select(c.id).where(branch)).scalars()
    by_python = {r.id for r in everything
                 if can_view(who, r.member_id, r.ward_id, r.consent_to_share)}
    assert by_clause == by_python
    assert sorted(by_branches) == sorted(by_python)  # disjoint: nothing counted twice


def _cli(portal: Seeded, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(portal.bridge.loaded.path), *args],
                              env={"CRM_BRIDGE_CONFIG": None})


@pytest.mark.parametrize(("user", "key"), CASES)
def test_cli_show_as_user(portal: Seeded, user: str, key: str) -> None:
    """`enquiry show --as USER` applies the portal account's policy, as the page does."""
    ref, name = portal.refs[key], SEEDS[key][2]
    shown = _cli(portal, "enquiry", "show", ref, "--as", user, "--json")
    if key in SEES[user]:
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["constituent"]["name"] == name
    else:
        assert shown.exit_code == 2
        assert name not in shown.output
        if user == "admin":
            assert "sees no enquiries" in shown.output
        else:
            assert f"no enquiry '{ref}'" in shown.output


@pytest.mark.parametrize("user", [u for u in USERS if u != "admin"])
def test_cli_list_as_user(portal: Seeded, user: str) -> None:
    listed = _cli(portal, "enquiry", "list", "--as", user, "--json", "--limit", "1000")
    assert listed.exit_code == 0, listed.output
    shown = {item["reference"] for item in json.loads(listed.output)}
    assert {k for k, ref in portal.refs.items() if ref in shown} == SEES[user]


def test_cli_operator_sees_all_and_is_audited(portal: Seeded) -> None:
    """Without --as the CLI reads as the operator: everything, each read audited as
    cli:<login>; with --as, as the account, made via cli:<login>."""
    login = cli_login()
    key = "msp_private"
    before = _audit_rows(portal, key)
    shown = _cli(portal, "enquiry", "show", portal.refs[key])
    assert shown.exit_code == 0 and SEEDS[key][2] in shown.output
    listed = _cli(portal, "enquiry", "list", "--json", "--limit", "1000")
    assert {item["reference"] for item in json.loads(listed.output)} >= set(
        portal.refs.values())
    as_eilidh = _cli(portal, "enquiry", "show", portal.refs[key], "--as", "eilidh")
    assert as_eilidh.exit_code == 0
    new = _audit_rows(portal, key)[len(before):]
    assert new == [(login, login, "viewed"), (login, login, "listed"),
                   ("eilidh", login, "viewed")]


def _audit_rows(portal: Seeded, key: str) -> list[tuple[str, str, str]]:
    with portal.bridge.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(audit_log.c.actor, audit_log.c.via, audit_log.c.action)
            .where(audit_log.c.enquiry_id == portal.ids[key]).order_by(audit_log.c.id))]
