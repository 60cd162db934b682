"""The pull cursor and the capped-search reader on their own (no server: a search function
that behaves as a capped FL would, answering the oldest cases first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.lagan_mapping import CaseView
from connectors.lagan_pull import CaseReader, PullState

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _case(n: int, opened: datetime) -> CaseView:
    return CaseView(ref=str(100000 + n), status="open", reason=None, title=f"t{n}",
                    raised_by="crm-bridge", external_refs=(f"e-{n}",), modified=None,
                    due=None, notes=(), opened=opened)


def _capped(cases: list[CaseView], cap: int, log: list[dict[str, Any]]) -> Any:
    def search(criteria: dict[str, Any]) -> list[CaseView]:
        log.append(criteria)
        after, before = criteria.get("CreatedAfter"), criteria.get("CreatedBefore")
        hits = [c for c in cases if c.opened is not None
                and (after is None or c.opened > after) and (before is None or c.opened < before)]
        return hits[:min(cap, criteria["ResultsLimit"])]
    return search


def test_every_case_is_read_once_however_the_cap_cuts() -> None:
    cases = [_case(n, T0 + timedelta(seconds=7 * n)) for n in range(1000)]
    searches: list[dict[str, Any]] = []
    reader = CaseReader(_capped(cases, 500, searches), page=200)
    found, edges = reader.read({"RaisedByUser": {"UserID": "crm-bridge"}})
    assert sorted(c.ref for c in found) == sorted(c.ref for c in cases)
    assert all(s["ResultsLimit"] == 200 for s in searches)
    again, _ = CaseReader(_capped(cases, 500, []), page=200).read({}, edges)
    assert len(again) == 1000


def test_cases_opened_within_two_seconds_beyond_a_page_are_reported() -> None:
    cases = [_case(n, T0 + timedelta(microseconds=n)) for n in range(30)]
    reader = CaseReader(_capped(cases, 20, []), page=20)
    found, _ = reader.read({})
    assert reader.unsplittable and len(found) == 20  # the documented limit, said in the log


def test_the_cursor_round_trips_and_later_entries_win() -> None:
    state = PullState(since=T0, edges=[T0 + timedelta(hours=1)], cap=40, proven=12,
                      prints={"100001": "a.0.", "100002": "b.1.77"})
    text = state.head() + state.body() + "100001=c.2.80,"
    back = PullState.parse(text)
    assert (back.since, back.edges, back.cap, back.proven) == (state.since, state.edges, 40, 12)
    assert back.prints == {"100001": "c.2.80", "100002": "b.1.77"}


@pytest.mark.parametrize("old, since", [("2026-03-01T09:00:00.000000Z", T0), ("junk", None),
                                        ("lagan-2 {not json\n", None), (None, None)])
def test_an_older_or_damaged_cursor_reads_again_rather_than_failing(old: str | None,
                                                                   since: datetime | None) -> None:
    state = PullState.parse(old)
    assert state.since == since and state.prints == {}
