"""A constituent's history on SQLite and PostgreSQL: their other enquiries found by e-mail,
phone or name with postcode however written, listed when the viewer may see them and only
counted when another member holds them; corrected and erased details stop matching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.constants import NOW

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry, Status
from crm_bridge.portal.constituents import History, constituent_history
from crm_bridge.privacy.rectify import correct
from crm_bridge.privacy.scrub import scrub
from crm_bridge.store.enquiries import set_fields
from crm_bridge.store.tables import enquiries

KIRSTY, IAIN, MP = "cllr-kirsty-dalgleish", "cllr-iain-tennant", "mp-angus-tulloch"


def _who(bridge: Bridge, role: UserRole, member: str | None) -> Principal:
    return principal_for(bridge.config, user_id=1, username="u", name="U", role=role,
                         member_id=member, staff_group=None, session_id="s")


def _history(bridge: Bridge, who: Principal, **details: str | None) -> History:
    wanted = {"name": None, "email": None, "phone": None, "postcode": None, **details}
    with bridge.engine.connect() as conn:
        return constituent_history(conn, who, **wanted)  # type: ignore[arg-type]


@pytest.fixture
def past(bridge: Bridge, log: Callable[..., Enquiry]) -> dict[str, Enquiry]:
    day = timedelta(days=1)

    def person(**details: str) -> dict[str, str]:
        return {"name": "Jean Paterson", **details}

    made = {
        "by_email": log(NOW - 40 * day, constituent=person(email="Jean.Paterson@Example.com")),
        "by_phone": log(NOW - 30 * day, constituent=person(name="J Paterson",
                                                            phone="+44 (0)1259 751234")),
        "by_name": log(NOW - 20 * day, constituent=person(name="PATERSON, Jean",
                                                           postcode="fk136aa")),
        "colleague_shared": log(NOW - 10 * day, member_id=IAIN, consent_to_share=True,
                                constituent=person(email="jean.paterson@example.com")),
        "colleague_private": log(NOW - 9 * day, member_id=IAIN, consent_to_share=False,
                                 constituent=person(email="jean.paterson@example.com")),
        "mp": log(NOW - 8 * day, member_id=MP, consent_to_share=True,
                  constituent=person(phone="01259751234")),
        # Same name, another postcode, no e-mail or phone in common: someone else.
        "namesake": log(NOW - 5 * day, constituent=person(postcode="FK10 1EB")),
    }
    with bridge.engine.begin() as conn:
        set_fields(conn, str(made["by_email"].id), NOW, status=Status.CLOSED.value,
                   closed_at=NOW - 35 * day)
    return made


DETAILS = {"name": "Jean Paterson", "email": " jean.paterson@EXAMPLE.com",
           "phone": "01259 751234", "postcode": "FK13 6AA"}


def test_the_member_sees_theirs_and_shared_and_counts_the_rest(
        bridge: Bridge, past: dict[str, Enquiry]) -> None:
    found = _history(bridge, _who(bridge, UserRole.MEMBER, KIRSTY), **DETAILS)
    refs = [r.reference for r in found.rows]
    assert refs == [past[k].reference for k in ("colleague_shared", "by_name", "by_phone",
                                                "by_email")]
    assert (found.total, found.open, found.hidden, found.hidden_open) == (4, 3, 2, 2)
    reasons = {r.reference: found.reasons[r.id] for r in found.rows}
    assert reasons[past["by_phone"].reference] == "same phone"
    assert reasons[past["by_name"].reference] == "same name and postcode"
    assert reasons[past["by_email"].reference] == "same e-mail"
    assert past["namesake"].reference not in refs


def test_staff_and_the_mp_see_what_their_role_gives(bridge: Bridge,
                                                    past: dict[str, Enquiry]) -> None:
    staff = _history(bridge, _who(bridge, UserRole.STAFF, None), **DETAILS)
    assert (staff.total, staff.hidden) == (5, 1)  # every councillor's; the MP's hidden
    mp = _history(bridge, _who(bridge, UserRole.MEMBER, MP), phone="01259-751-234")
    assert [r.reference for r in mp.rows] == [past["mp"].reference]
    assert mp.hidden == 1  # Kirsty's, counted: the MP never learns whose it is
    admin = _history(bridge, _who(bridge, UserRole.ADMIN, None), **DETAILS)
    assert not admin.any and admin.rows == []


def test_too_few_details_look_for_nothing(bridge: Bridge, past: dict[str, Enquiry]) -> None:
    kirsty = _who(bridge, UserRole.MEMBER, KIRSTY)
    alone = _history(bridge, kirsty, name="Jean Paterson")
    assert not alone.asked and not alone.any
    assert not _history(bridge, kirsty, postcode="FK13 6AA").asked


def test_corrected_and_erased_details_stop_matching(bridge: Bridge,
                                                    past: dict[str, Enquiry]) -> None:
    kirsty = _who(bridge, UserRole.MEMBER, KIRSTY)
    correct(bridge.engine, None, [past["by_phone"].reference],
            {"phone": "07700 900123"}, "wrong number", "cli:test", NOW)
    assert past["by_phone"].reference not in {
        r.reference for r in _history(bridge, kirsty, phone="01259751234").rows}
    assert [r.reference for r in _history(bridge, kirsty, phone="+447700900123").rows] == [
        past["by_phone"].reference]
    with bridge.engine.begin() as conn:
        scrub(conn, [str(past["by_name"].id)], NOW)
        keys = conn.execute(select(
            enquiries.c.email_key, enquiries.c.phone_key, enquiries.c.name_key,
            enquiries.c.postcode_key, enquiries.c.outcode_key, enquiries.c.name_sound)
            .where(enquiries.c.id == str(past["by_name"].id))).one()
    assert tuple(keys) == (None,) * 6
    found = _history(bridge, kirsty, name="Jean Paterson", postcode="FK13 6AA")
    assert past["by_name"].reference not in {r.reference for r in found.rows}
