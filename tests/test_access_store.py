"""The access policy's SQL on both back ends: every way a list is narrowed (search branches,
the one-clause form the CLI uses, the dashboard) picks exactly the rows ``can_view`` allows,
and the audit trail reads back by enquiry, user and time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.constants import DRAFT_DEFAULTS, NOW

from crm_bridge.access.audit import read_audit, record
from crm_bridge.access.policy import (
    Principal,
    UserRole,
    can_view,
    principal_for,
    visible_branches,
    visible_clause,
)
from crm_bridge.app import Bridge
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.portal.queries import dashboard, search
from crm_bridge.store.enquiries import EnquiryFilter, list_enquiries
from crm_bridge.store.tables import enquiries

MEMBERS = ["cllr-kirsty-dalgleish", "cllr-iain-tennant", "cllr-morag-kinnaird",
           "cllr-euan-lochhead", "cllr-neil-cochrane", "mp-angus-tulloch", "msp-eilidh-brodie"]


@pytest.fixture
def logged(bridge: Bridge) -> dict[str, str]:
    """Two enquiries per member, consent yes and no; the MP's and MSP's filed in a ward."""
    ids = {}
    for index, member in enumerate(MEMBERS):
        for consent in (True, False):
            draft = draft_from({**DRAFT_DEFAULTS, "member_id": member,
                                "consent_to_share": consent,
                                "ward_id": None if member.startswith("cllr") else "clacks-north"})
            enquiry = log_enquiry(bridge.engine, bridge.config, bridge.router, draft,
                                  NOW - timedelta(hours=index * 2 + consent))
            ids[enquiry.reference] = str(enquiry.id)
    return ids


def _people(bridge: Bridge) -> list[Principal]:
    config = bridge.config

    def make(role: UserRole, member: str | None = None, group: str | None = None) -> Principal:
        return principal_for(config, user_id=1, username="u", name="U", role=role,
                             member_id=member, staff_group=group, session_id="t")

    staff = make(UserRole.STAFF, group="members-services")  # the example: every member
    return [make(UserRole.MEMBER, m) for m in MEMBERS] + [
        staff,
        replace(staff, scope=frozenset(MEMBERS[:5])),  # many members: the unindexed test
        replace(staff, scope=frozenset(MEMBERS[5:])),  # a few: one branch each
        make(UserRole.ADMIN),
    ]


def test_every_narrowing_agrees_with_can_view(bridge: Bridge, logged: dict[str, str]) -> None:
    zone = bridge.router.calendar.zone
    c = enquiries.c
    with bridge.engine.connect() as conn:
        rows = conn.execute(select(c.reference, c.member_id, c.ward_id,
                                   c.consent_to_share)).all()
        for who in _people(bridge):
            allowed = {r.reference for r in rows
                       if can_view(who, r.member_id, r.ward_id, r.consent_to_share)}
            by_branch: list[str] = []
            for branch in visible_branches(who):
                by_branch += conn.execute(select(c.reference).where(branch)).scalars()
            assert sorted(by_branch) == sorted(allowed), who
            clause = set(conn.execute(select(c.reference).where(visible_clause(who)))
                         .scalars())
            listed = {e.reference for e in list_enquiries(conn, EnquiryFilter(), limit=1000,
                                                          visible=visible_clause(who))}
            found, total = search(conn, who, EnquiryFilter(text="pothole"), 1, 100, zone)
            board = dashboard(conn, who, NOW.date(), limit=100)
            assert clause == listed == allowed
            assert {r.reference for r in found} == allowed and total == len(allowed)
            assert {r.reference for r in (*board.mine, *board.shared)} == allowed


def test_the_councillors_see_no_mp_casework_filed_in_their_ward(
        bridge: Bridge, logged: dict[str, str]) -> None:
    kirsty = _people(bridge)[0]
    with bridge.engine.connect() as conn:
        seen = set(conn.execute(select(enquiries.c.member_id)
                                .where(visible_clause(kirsty))).scalars())
    assert seen == {"cllr-kirsty-dalgleish", "cllr-iain-tennant"}


def test_audit_reads_back_by_enquiry_user_and_time(bridge: Bridge,
                                                   logged: dict[str, str]) -> None:
    first, second = list(logged.values())[:2]
    with bridge.engine.begin() as conn:
        record(conn, NOW, "kirsty", "viewed", first)
        record(conn, NOW + timedelta(hours=1), "cli:ops", "viewed", second, via="cli:ops")
        record(conn, NOW + timedelta(hours=2), "kirsty", "viewed", second, via="cli:ops")
        record(conn, NOW + timedelta(hours=3), "admin", "user_added", None,
               "role staff, staff group members-services", target_user="jo")
    with bridge.engine.connect() as conn:
        about = read_audit(conn, enquiry_id=second)
        assert [(r.actor, r.via) for r in about] == [("cli:ops", "cli:ops"),
                                                      ("kirsty", "cli:ops")]
        assert [r.actor for r in read_audit(conn, user="ops")] == ["cli:ops", "kirsty"]
        assert [r.action for r in read_audit(conn, user="jo")] == ["user_added"]
        window = read_audit(conn, since=NOW + timedelta(minutes=30),
                            until=NOW + timedelta(hours=2))
        assert [r.actor for r in window] == ["cli:ops"]
