"""The dashboard's new responses and the statistics tables on both back ends (SQLite and
PostgreSQL): the same SQL, the same answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from support.constants import NOW

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.portal.accounts import create_user
from crm_bridge.portal.responses import mark_read, new_response_count, new_responses
from crm_bridge.portal.statistics import Filters, ReportCache, statistics
from crm_bridge.reports import parse_period
from crm_bridge.store.enquiries import set_fields


def _principal(bridge: Bridge, username: str, role: UserRole, member: str | None) -> Principal:
    with bridge.engine.begin() as conn:
        user_id = create_user(conn, bridge.config, username, role, None, member,
                              "a long enough password", NOW).id
    return principal_for(bridge.config, user_id=user_id, username=username, name=username,
                         role=role, member_id=member, staff_group=None, session_id="s")


def test_new_responses_and_statistics(bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    kirsty = [log(NOW + timedelta(minutes=i)) for i in range(6)]
    iain_private = log(NOW, member_id="cllr-iain-tennant", consent_to_share=False)
    arrived = NOW + timedelta(days=3)
    with bridge.engine.begin() as conn:
        for number, enquiry in enumerate([*kirsty, iain_private]):
            set_fields(conn, str(enquiry.id), arrived, response="Done",
                       responded_at=arrived - timedelta(hours=1),
                       response_arrived_at=arrived + timedelta(minutes=number))
    member = _principal(bridge, "kirsty", UserRole.MEMBER, "cllr-kirsty-dalgleish")
    staff = _principal(bridge, "staff", UserRole.STAFF, None)
    later = arrived + timedelta(days=1)
    with bridge.engine.begin() as conn:
        news = new_responses(conn, member, later)
        assert [row.reference for row, _ in news.rows] == [e.reference for e in reversed(kirsty)]
        assert news.total == 6 and news.since is None
        assert new_response_count(conn, staff, later) == 7
        assert news.newest is not None
        mark_read(conn, member, news.rows[1][1])  # the second newest: the newest stays unread
        assert [row.reference for row, _ in new_responses(conn, member, later).rows] == [
            kirsty[-1].reference]
        assert new_response_count(conn, member, later) == 1

    period = parse_period(str(NOW.year))
    cached = ReportCache().rows(bridge.engine.connect, bridge.config, period, later,
                                later.date().isoformat())
    council = statistics(cached, bridge.config, staff, Filters(period))
    summary = council.tables[0].rows[0][1]
    assert (summary.received, summary.responded) == (7, 7)
    by_member = {name: figures.received for name, figures, _ in council.tables[-1].rows}
    assert by_member == {"Kirsty Dalgleish": 6, "Iain Tennant": 1}
    own = statistics(cached, bridge.config, member, Filters(period))
    compared = [(name, figures.received) for name, figures, _ in own.tables[0].rows]
    assert compared == [("Your enquiries", 6),
                        ("All enquiries in Clackmannanshire North", 7),
                        ("All enquiries in the council", 7)]
