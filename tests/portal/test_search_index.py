"""The full-text index behind search (migrations 0006 and 0015, SQLite): the same results as
the plain LIKE it narrows, and kept in step with the enquiries table by its triggers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update

from crm_bridge.portal import finder
from crm_bridge.portal.accounts import UserRole
from crm_bridge.portal.policy import Principal
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import EnquiryFilter
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import enquiries

ZONE = ZoneInfo("Europe/London")
STAFF = Principal(1, "staff", "Staff", UserRole.STAFF, None, None, "s",
                  scope=frozenset({"cllr-a", "cllr-b"}))
MEMBER = Principal(2, "m", "M", UserRole.MEMBER, "cllr-a", "ward-1", "m")
TEXTS = [  # (name, description, location)
    ("Ann O'Neil", "Pothole on the corner, 50% of the road", "12 Main Street"),
    ("Zoë Brown", "Streetlight_out near \"the gate\"", "Mill Lane"),
    ("ÉMILE DUPONT", "Noise from the pub; back\\slash", None),
    ("Bob Smith", "Bins not collected", "4 Station Road"),
]


def _row(number: int, name: str, description: str, location: str | None,
         member: str) -> dict[str, Any]:
    now = datetime.now(UTC) - timedelta(days=number)
    return {
        "id": str(uuid.uuid4()), "reference": f"ENQ-2026-{number:06d}", "member_id": member,
        "logged_by": "test", "channel": "surgery", "constituent_name": name,
        "constituent_postcode": "FK10 1AB", "constituent_email": None,
        "constituent_address": None, "constituent_phone": None, "constituent_uprn": None,
        "consent_to_share": number % 2 == 0, "consent_recorded_by": "test",
        "consent_recorded_at": now, "category_id": "pothole", "service_id": "roads",
        "ward_id": "ward-1", "description": description, "location": location,
        "received_at": now, "target_date": date.today(), "warning_date": date.today(),
        "status": "logged", "crm_ref": None, "response": None, "responded_at": None,
        "closed_at": None, "overdue": False, "failure_reason": None, "extension_days": 0,
        "created_at": now, "updated_at": now,
    }


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(made)
    with made.begin() as conn:
        for number, (name, description, location) in enumerate(TEXTS * 3, start=1):
            conn.execute(insert(enquiries), _row(number, name, description, location,
                                                 "cllr-a" if number % 3 else "cllr-b"))
    yield made
    made.dispose()


def _refs(engine: Engine, who: Principal, words: str, fts: bool) -> list[str]:
    with engine.connect() as conn:
        if not fts:  # the plain LIKE, as without the index
            original = finder._narrowing
            finder._narrowing = lambda _conn, _query: None  # type: ignore[assignment]
            try:
                rows, _ = finder.search(conn, who, EnquiryFilter(text=words), 1, 25, ZONE)
            finally:
                finder._narrowing = original
        else:
            words_kind = next(k for k in finder.kinds(words, False) if k.name == "words")
            narrowed = finder._narrowing(conn, words_kind.fts) is not None
            assert narrowed == (len(words) >= 3)
            rows, _ = finder.search(conn, who, EnquiryFilter(text=words), 1, 25, ZONE)
    return [r.reference for r in rows]


@pytest.mark.parametrize("words", [
    "pothole", "POTHOLE", "main st", "50%", "50% of", "light_out", "\"the gate\"", "o'neil",
    "zoë", "émile", "back\\slash", "ENQ-2026-00000", "2026-000003", "bin", "no such thing",
    "ma", "Mill Lane", "street",
])
@pytest.mark.parametrize("who", [STAFF, MEMBER], ids=["staff", "member"])
def test_index_gives_the_same_results_as_like(engine: Engine, words: str,
                                              who: Principal) -> None:
    assert _refs(engine, who, words, fts=True) == _refs(engine, who, words, fts=False)


def test_triggers_keep_the_index_in_step(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(enquiries).where(enquiries.c.reference == "ENQ-2026-000001")
                     .values(description="Flooded underpass"))
        conn.execute(delete(enquiries).where(enquiries.c.reference == "ENQ-2026-000004"))
    assert _refs(engine, STAFF, "flooded", fts=True) == ["ENQ-2026-000001"]
    assert "ENQ-2026-000001" not in _refs(engine, STAFF, "pothole", fts=True)
    assert "ENQ-2026-000004" not in _refs(engine, STAFF, "Bob Smith", fts=True)
    with engine.connect() as conn:  # FTS5's own consistency check of index against content
        conn.execute(text("INSERT INTO enquiries_fts(enquiries_fts, rank) "
                          "VALUES('integrity-check', 1)"))
        assert conn.execute(select(text("count(*)")).select_from(text("enquiries_fts"))
                            ).scalar_one() == len(TEXTS) * 3 - 1
