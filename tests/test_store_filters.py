"""Filters a member's search relies on: council-local days, and text taken literally."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.store.enquiries import EnquiryFilter, list_enquiries

pytestmark = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


def _found(bridge: Bridge, where: EnquiryFilter) -> list[str]:
    with bridge.engine.connect() as conn:
        return [e.reference for e in list_enquiries(conn, where)]


def test_received_dates_are_the_councils_days(bridge: Bridge,
                                              log: Callable[..., Enquiry]) -> None:
    # 23:30 UTC on 1 July is 00:30 BST on 2 July: a 2 July enquiry in Clackmannanshire.
    late = log(now=datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
    early = log(now=datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    assert _found(bridge, EnquiryFilter(received_from=date(2026, 7, 2))) == [late.reference]
    assert _found(bridge, EnquiryFilter(received_to=date(2026, 7, 1))) == [early.reference]
    both = EnquiryFilter(received_from=date(2026, 7, 1), received_to=date(2026, 7, 2))
    assert sorted(_found(bridge, both)) == sorted([late.reference, early.reference])


def test_search_text_is_taken_literally(bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    percent = log(description="Rent rose 50% this year without notice")
    log(description="Rent rose 500 pounds this year")
    underscore = log(description="Reference code A_1 on the letter")
    log(description="Reference code AB1 on the letter")
    assert _found(bridge, EnquiryFilter(text="50%")) == [percent.reference]
    assert _found(bridge, EnquiryFilter(text="a_1")) == [underscore.reference]
