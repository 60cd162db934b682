"""Intake: the rules every way in (portal, CLI, API) shares, and the one-transaction write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.constants import DRAFT_DEFAULTS, NOW

from crm_bridge.app import Bridge
from crm_bridge.config import CouncilConfig, load_config
from crm_bridge.errors import InputError
from crm_bridge.intake import EnquiryDraft, draft_from, prepare_enquiry
from crm_bridge.models import Enquiry, Status
from crm_bridge.routing import Router
from crm_bridge.store.tables import counters, enquiries, enquiry_history, outbox

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"
CONFIG: CouncilConfig = load_config(EXAMPLE, environ={}).config
ROUTER = Router(CONFIG)


def prepare(draft: EnquiryDraft, now: datetime = NOW) -> Enquiry:
    return prepare_enquiry(draft, CONFIG, ROUTER, now)


def refused(draft: EnquiryDraft, now: datetime = NOW) -> InputError:
    with pytest.raises(InputError) as info:
        prepare(draft, now)
    return info.value


def table_counts(bridge: Bridge) -> dict[str, int]:
    with bridge.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (enquiries, enquiry_history, outbox, counters)
        }


# --- one transaction ---------------------------------------------------------------------


def test_enquiry_and_outbox_row_are_written_together_or_not_at_all(
    bridge: Bridge, log: Callable[..., Enquiry], monkeypatch: pytest.MonkeyPatch
) -> None:
    def outbox_down(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full writing the outbox")

    monkeypatch.setattr("crm_bridge.intake.enqueue", outbox_down)
    with pytest.raises(RuntimeError, match="disk full"):
        log()
    # Nothing half-written: no enquiry, no history, no outbox row, no number taken.
    assert table_counts(bridge) == {"enquiries": 0, "enquiry_history": 0, "outbox": 0,
                                    "counters": 0}

    monkeypatch.undo()
    enquiry = log()
    assert enquiry.reference == "ENQ-2026-000001"
    assert table_counts(bridge) == {"enquiries": 1, "enquiry_history": 1, "outbox": 1,
                                    "counters": 1}
    with bridge.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert (row.enquiry_id, row.kind, row.state) == (str(enquiry.id), "create_case", "pending")


def test_a_refused_draft_takes_no_reference_number(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    with pytest.raises(InputError):
        log(category_id="potholes")
    assert log().reference == "ENQ-2026-000001"


# --- members and wards -------------------------------------------------------------------


def test_a_councillors_ward_is_filled_in_from_the_config(
    draft: Callable[..., EnquiryDraft],
) -> None:
    enquiry = prepare(draft(member_id="cllr-morag-kinnaird"))
    assert enquiry.ward_id == "clacks-west"
    assert enquiry.status is Status.LOGGED
    assert enquiry.consent.to_share is True
    assert enquiry.consent.recorded_by == "members.services"


def test_an_mp_needs_no_ward(draft: Callable[..., EnquiryDraft]) -> None:
    enquiry = prepare(draft(member_id="mp-angus-tulloch", category_id="housing-repair"))
    assert enquiry.ward_id is None
    assert enquiry.service_id == "housing-repairs"


def test_an_mp_can_name_the_ward_the_constituent_lives_in(
    draft: Callable[..., EnquiryDraft],
) -> None:
    enquiry = prepare(draft(member_id="msp-eilidh-brodie", category_id="housing-repair",
                            ward_id="clacks-north"))
    assert enquiry.ward_id == "clacks-north"
    assert enquiry.service_id == "housing-repairs-hillfoots"


def test_a_councillor_cannot_log_for_another_ward(draft: Callable[..., EnquiryDraft]) -> None:
    error = refused(draft(member_id="cllr-kirsty-dalgleish", ward_id="clacks-west"))
    assert error.field == "ward"
    assert error.message == (
        "Kirsty Dalgleish is a councillor for 'clacks-north', not 'clacks-west'"
    )


def test_an_unknown_member_is_refused_with_a_suggestion(
    draft: Callable[..., EnquiryDraft],
) -> None:
    error = refused(draft(member_id="cllr-kirsty-dalgliesh"))
    assert error.field == "member"
    assert error.message == (
        "unknown member 'cllr-kirsty-dalgliesh' (did you mean 'cllr-kirsty-dalgleish'?)"
    )


def test_an_unknown_ward_is_refused_with_a_suggestion(
    draft: Callable[..., EnquiryDraft],
) -> None:
    error = refused(draft(member_id="mp-angus-tulloch", ward_id="clacks-nort"))
    assert error.field == "ward"
    assert error.message == "unknown ward 'clacks-nort' (did you mean 'clacks-north'?)"


def test_an_unknown_category_is_refused_with_a_suggestion(
    draft: Callable[..., EnquiryDraft],
) -> None:
    error = refused(draft(category_id="potholes"))
    assert error.field == "category"
    assert error.message == "unknown category 'potholes' (did you mean 'pothole'?)"


# --- when it was received ----------------------------------------------------------------


def test_received_in_the_future_is_refused(draft: Callable[..., EnquiryDraft]) -> None:
    error = refused(draft(received_at=(NOW + timedelta(minutes=5)).isoformat()))
    assert error.field == "received_at"
    assert "is in the future" in error.message
    # The moment itself is fine: a form submitted as it is filled in.
    assert prepare(draft(received_at=NOW.isoformat())).received_at == NOW


def test_received_without_a_timezone_is_refused() -> None:
    with pytest.raises(InputError) as info:
        draft_from({**DRAFT_DEFAULTS, "received_at": "2026-11-02T09:30:00"})
    assert info.value.field == "received_at"
    assert info.value.message == "must include a timezone, e.g. 2026-07-01T09:30+01:00"


def test_no_received_at_means_now(draft: Callable[..., EnquiryDraft]) -> None:
    assert prepare(draft()).received_at == NOW


# --- routing -----------------------------------------------------------------------------


def test_a_ward_override_routes_to_the_area_office_with_its_deadline(
    draft: Callable[..., EnquiryDraft],
) -> None:
    # Friday 20 November 2026; St Andrew's Day (Monday 30 November) is not a working day.
    received = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    later = received + timedelta(days=1)
    north = prepare(draft(category_id="housing-repair", received_at=received.isoformat()), later)
    west = prepare(draft(member_id="cllr-morag-kinnaird", category_id="housing-repair",
                         received_at=received.isoformat()), later)

    assert north.service_id == "housing-repairs-hillfoots"
    assert west.service_id == "housing-repairs"
    assert north.target_date == date(2026, 12, 7)
    assert north.warning_date == date(2026, 12, 3)  # the calendar's default 2 working days


def test_the_day_of_receipt_is_the_councils_local_day(
    draft: Callable[..., EnquiryDraft],
) -> None:
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: day 0 is Thursday 1 July.
    late = prepare(draft(received_at="2027-06-30T23:30Z"), now=datetime(2027, 7, 1, 9, tzinfo=UTC))
    earlier = prepare(draft(received_at="2027-06-30T22:30Z"),
                      now=datetime(2027, 7, 1, 9, tzinfo=UTC))
    assert late.target_date == date(2027, 7, 15)
    assert earlier.target_date == date(2027, 7, 14)
    assert late.received_at == datetime(2027, 6, 30, 23, 30, tzinfo=UTC)
