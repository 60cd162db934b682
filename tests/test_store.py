"""The state store on SQLite and PostgreSQL: schema, references, datetimes, listing, look-ups."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from support.constants import NOW

from crm_bridge.app import Bridge
from crm_bridge.errors import ConfigError
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.models import Enquiry, Status
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import (
    EnquiryFilter,
    count_enquiries,
    get_enquiry,
    list_enquiries,
    set_fields,
)
from crm_bridge.store.migrate import current_revision, ensure_current, head_revision, upgrade
from crm_bridge.store.tables import counters, enquiries, metadata

# --- schema ------------------------------------------------------------------------------


def test_upgrade_builds_every_table_and_is_idempotent(raw_engine: Engine) -> None:
    assert current_revision(raw_engine) is None

    assert upgrade(raw_engine) == (None, head_revision())
    assert set(metadata.tables) <= set(inspect(raw_engine).get_table_names())
    ensure_current(raw_engine)

    # A second `db upgrade` (cron, a second server) changes nothing and does not fail.
    assert upgrade(raw_engine) == (head_revision(), head_revision())
    ensure_current(raw_engine)


def test_an_unupgraded_store_is_refused_with_the_command_to_run(
    raw_engine: Engine, config_file: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        Bridge.open(config_file)
    if raw_engine.dialect.name == "sqlite":  # no file yet: looking did not create one
        assert str(info.value) == (
            f"the state store {raw_engine.url.database} does not exist yet: run 'crm-bridge "
            "db upgrade' to create it (or correct store.url if it is elsewhere)")
    else:
        assert str(info.value) == (
            "the state store has no tables; run 'crm-bridge db upgrade' to bring it up to date"
        )
    del info
    gc.collect()  # a connection the refused open left behind would warn here, not later


def test_a_store_behind_the_code_is_refused(raw_engine: Engine) -> None:
    upgrade(raw_engine)
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(ConfigError, match=r"is at revision 0000; run 'crm-bridge db upgrade'"):
        ensure_current(raw_engine)


# --- references --------------------------------------------------------------------------


def test_references_count_up_per_year_and_restart_in_a_new_year(
    log: Callable[..., Enquiry],
) -> None:
    first = log(received_at="2026-03-02T09:00Z", now=NOW)
    second = log(received_at="2026-12-31T23:59:59Z", now=datetime(2027, 1, 4, tzinfo=UTC))
    new_year = log(received_at="2027-01-04T09:00Z", now=datetime(2027, 1, 4, 10, tzinfo=UTC))
    late_2026 = log(received_at="2026-12-01T09:00Z", now=datetime(2027, 1, 4, 10, tzinfo=UTC))

    assert [e.reference for e in (first, second, new_year, late_2026)] == [
        "ENQ-2026-000001",
        "ENQ-2026-000002",
        "ENQ-2027-000001",
        "ENQ-2026-000003",
    ]


def test_the_reference_year_is_the_councils_local_date_not_the_senders_offset(
    log: Callable[..., Enquiry],
) -> None:
    # Sent from a laptop on Central European Time: 00:30 on New Year's Day there is
    # still 23:30 on 31 December in Clackmannanshire.
    enquiry = log(received_at="2027-01-01T00:30+01:00", now=datetime(2027, 1, 4, tzinfo=UTC))
    assert enquiry.reference == "ENQ-2026-000001"
    assert enquiry.received_at == datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


def test_concurrent_intake_never_hands_out_the_same_reference(
    bridge: Bridge, store_url: str, draft: Callable[..., EnquiryDraft]
) -> None:
    threads, per_thread = 6, 5
    start = threading.Barrier(threads)
    references: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        # One engine per thread, as separate portal and CLI processes would have.
        engine = make_engine(store_url)
        try:
            start.wait()
            for _ in range(per_thread):
                enquiry = log_enquiry(engine, bridge.config, bridge.router, draft(), NOW)
                references.append(enquiry.reference)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(references) == [f"ENQ-2026-{n:06d}" for n in range(1, threads * per_thread + 1)]
    with bridge.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(enquiries)).scalar_one()
        assert total == len(references)
        assert conn.execute(
            select(counters.c.value).where(counters.c.name == "reference-2026")
        ).scalar_one() == len(references)


# --- datetimes ---------------------------------------------------------------------------


def test_datetimes_come_back_as_the_same_instant_in_utc(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    bst = timezone(timedelta(hours=1))
    logged = log(received_at=datetime(2026, 7, 1, 0, 30, tzinfo=bst).isoformat(), now=NOW)

    with bridge.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # The server's session zone must not leak into what the bridge reads.
            conn.execute(text("SET TIME ZONE 'Pacific/Auckland'"))
        stored = get_enquiry(conn, logged.reference)

    assert stored is not None
    for value in (stored.received_at, stored.consent.recorded_at, stored.history[0].at):
        assert value.utcoffset() == timedelta(0), value
    assert stored.received_at == datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert stored.received_at.tzinfo == UTC
    assert stored.consent.recorded_at == NOW
    assert stored.target_date == logged.target_date


# --- look-ups ----------------------------------------------------------------------------


def test_get_by_reference_in_any_case_or_by_id(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    logged = log()
    with bridge.engine.connect() as conn:
        by_reference = get_enquiry(conn, " enq-2026-000001 ")
        by_id = get_enquiry(conn, str(logged.id).upper())
        missing = get_enquiry(conn, "ENQ-2026-000002")

    assert by_reference is not None and by_id is not None
    assert by_reference.id == by_id.id == logged.id
    assert by_reference.reference == "ENQ-2026-000001"
    assert [h.event for h in by_reference.history] == ["logged"]
    assert missing is None


def test_list_filters_by_member_ward_category_status_overdue_and_text(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    north_pothole = log(now=NOW)
    north_bin = log(category_id="missed-bin", description="Brown bin not emptied",
                    location="Fir Park", now=NOW + timedelta(minutes=1))
    west_lighting = log(member_id="cllr-morag-kinnaird", category_id="street-lighting",
                        description="Lamp post out", location="Castle Street",
                        constituent={"name": "Walter Scott"}, now=NOW + timedelta(minutes=2))
    mp_pothole = log(member_id="mp-angus-tulloch", ward_id=None, description="Potholes",
                     location="A91", now=NOW + timedelta(minutes=3))
    with bridge.engine.begin() as conn:
        set_fields(conn, str(north_bin.id), NOW, status=Status.RESPONDED.value)
        set_fields(conn, str(west_lighting.id), NOW, overdue=True)

    def refs(where: EnquiryFilter) -> list[str]:
        with bridge.engine.connect() as conn:
            found = [e.reference for e in list_enquiries(conn, where)]
            assert count_enquiries(conn, where) == len(found)
        return found

    everything = [mp_pothole, west_lighting, north_bin, north_pothole]
    assert refs(EnquiryFilter()) == [e.reference for e in everything]  # newest first
    assert refs(EnquiryFilter(member_id="cllr-kirsty-dalgleish")) == [
        north_bin.reference, north_pothole.reference]
    assert refs(EnquiryFilter(ward_id="clacks-west")) == [west_lighting.reference]
    assert refs(EnquiryFilter(category_id="pothole")) == [
        mp_pothole.reference, north_pothole.reference]
    assert refs(EnquiryFilter(status=Status.RESPONDED)) == [north_bin.reference]
    assert refs(EnquiryFilter(open_only=True)) == [
        mp_pothole.reference, west_lighting.reference, north_pothole.reference]
    assert refs(EnquiryFilter(overdue=True)) == [west_lighting.reference]
    assert refs(EnquiryFilter(overdue=False, ward_id="clacks-north")) == [
        north_bin.reference, north_pothole.reference]
    # Text matches description, location, constituent and reference, in any case.
    assert refs(EnquiryFilter(text="POTHOLE")) == [mp_pothole.reference, north_pothole.reference]
    assert refs(EnquiryFilter(text="fir park")) == [north_bin.reference]
    assert refs(EnquiryFilter(text="walter")) == [west_lighting.reference]
    assert refs(EnquiryFilter(text="enq-2026-000002")) == [north_bin.reference]
    assert refs(EnquiryFilter(text="nothing like this")) == []
    with bridge.engine.connect() as conn:
        assert [e.reference for e in list_enquiries(conn, EnquiryFilter(), limit=2, offset=1)] == [
            west_lighting.reference, north_bin.reference]

