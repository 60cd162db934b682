"""Search finds what members type, ranked, on SQLite and PostgreSQL: labelled queries, each
of which must put the intended enquiry first and never show another controller's enquiry
holding the very same details."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from support.constants import NOW

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.portal.finder import search
from crm_bridge.store.enquiries import EnquiryFilter

ZONE = ZoneInfo("Europe/London")
KIRSTY = "cllr-kirsty-dalgleish"
PERSON = {"name": "Jean Paterson", "address": "14 Ochil Road, Tillicoultry",
          "postcode": "FK13 6AA", "email": "jean.paterson@example.com",
          "phone": "01259 751234"}

# (label, what is typed): each must find the target first.
QUERIES = [
    ("postcode", "FK13 6AA"),
    ("postcode without its space, lower case", "fk136aa"),
    ("outward code", "FK13"),
    ("outward code and the start of the inward", "fk13 6"),
    ("e-mail", "jean.paterson@example.com"),
    ("e-mail in capitals", " JEAN.Paterson@Example.COM "),
    ("phone, international", "+44 1259 751234"),
    ("phone, 0044 and brackets", "0044 (0)1259 751-234"),
    ("phone, no spaces", "01259751234"),
    ("street abbreviated", "ochil rd"),
    ("address", "14 Ochil Road"),
    ("name reversed", "paterson jean"),
    ("name reversed with a comma", "PATERSON, Jean"),
    ("name misspelt", "Jean Patterson"),
    ("surname misspelt", "Patterson"),
]


def _who(bridge: Bridge, role: UserRole, member: str | None) -> Principal:
    return principal_for(bridge.config, user_id=1, username="u", name="U", role=role,
                         member_id=member, staff_group=None, session_id="s")


@pytest.fixture
def logged(bridge: Bridge, log: Callable[..., Enquiry]) -> dict[str, Enquiry]:
    """The target among near misses; the newest enquiry of all is an MP's, holding exactly
    the target's details (no councillor or their staff may see it)."""
    day = timedelta(days=1)
    made = {
        "older_same_district": log(NOW - 9 * day, constituent={
            "name": "Jean Smith", "postcode": "FK13 6AB", "email": "js@example.com"}),
        "other_paterson": log(NOW - 8 * day, constituent={
            "name": "Ann Paterson", "postcode": "FK10 1EB"}),
        "target": log(NOW - 5 * day, constituent=PERSON, location="Ochil Road, Tillicoultry",
                      description="Street light out at number 14"),
        # Newer than the target, matching only as words in its description (a lower tier).
        "mentions": log(NOW - 2 * day, constituent={"name": "Rab Brown"},
                        description="Neighbour of Jean Paterson at FK13 6AA, 14 Ochil Road: "
                                    "jean.paterson@example.com 01259751234 paterson jean",
                        location="Menstrie"),
        "mp_same_person": log(NOW - day, member_id="mp-angus-tulloch", consent_to_share=True,
                              constituent=PERSON, location="Ochil Road, Tillicoultry"),
    }
    return made


@pytest.mark.parametrize(("label", "typed"), QUERIES, ids=[q[0] for q in QUERIES])
def test_each_kind_finds_the_person_first(bridge: Bridge, logged: dict[str, Enquiry],
                                          label: str, typed: str) -> None:
    for who in (_who(bridge, UserRole.MEMBER, KIRSTY), _who(bridge, UserRole.STAFF, None)):
        with bridge.engine.connect() as conn:
            rows, total = search(conn, who, EnquiryFilter(text=typed), 1, 25, ZONE)
        refs = [r.reference for r in rows]
        assert refs and refs[0] == logged["target"].reference, (label, refs)
        assert logged["mp_same_person"].reference not in refs, label
        assert total == len(refs)


def test_the_reference_and_ranking(bridge: Bridge, logged: dict[str, Enquiry]) -> None:
    kirsty = _who(bridge, UserRole.MEMBER, KIRSTY)
    with bridge.engine.connect() as conn:
        exact, _ = search(conn, kirsty, EnquiryFilter(text=logged["target"].reference.lower()),
                          1, 25, ZONE)
        district, _ = search(conn, kirsty, EnquiryFilter(text="FK13"), 1, 25, ZONE)
        fuzzy, _ = search(conn, kirsty, EnquiryFilter(text="Patterson"), 1, 25, ZONE)
    assert exact[0].reference == logged["target"].reference
    # The outward code: both people in FK13 (newest first), then the mere mention.
    assert [r.reference for r in district] == [logged[k].reference for k in (
        "target", "older_same_district", "mentions")]
    # Both Patersons, the newer first; no one else is like "Patterson".
    assert [r.reference for r in fuzzy][:2] == [logged["target"].reference,
                                                logged["other_paterson"].reference]
    assert logged["older_same_district"].reference not in {r.reference for r in fuzzy}


def test_the_mp_finds_their_own_and_filters_still_apply(bridge: Bridge,
                                                        logged: dict[str, Enquiry]) -> None:
    mp = _who(bridge, UserRole.MEMBER, "mp-angus-tulloch")
    with bridge.engine.connect() as conn:
        own, _ = search(conn, mp, EnquiryFilter(text="fk13 6aa"), 1, 25, ZONE)
        narrowed, _ = search(conn, _who(bridge, UserRole.STAFF, None),
                             EnquiryFilter(text="Paterson", category_id="noise"), 1, 25, ZONE)
    assert [r.reference for r in own] == [logged["mp_same_person"].reference]
    assert narrowed == []
