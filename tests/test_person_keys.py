"""Person keys: the same person's details written the ways people write them give the same
keys; a store upgraded to migration 0015 gets them for the enquiries it already holds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_bridge.personkeys import keys_of, name_key, phone_key, postcode_key, soundex
from crm_bridge.places import spellings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade


@pytest.mark.parametrize("written", ["01259 751234", "+44 1259 751234", "+44 (0)1259 751234",
                                     "0044 1259-751-234", "(01259) 751 234", "441259751234"])
def test_phone_numbers_in_any_common_format(written: str) -> None:
    assert phone_key(written) == "01259751234"


def test_too_short_or_empty_is_no_key() -> None:
    assert phone_key("12345") is None and phone_key(None) is None
    assert postcode_key("FK10") is None and postcode_key("not one") is None
    assert name_key("  ") is None and name_key("Mrs") is None
    assert keys_of(None, None, None, None).columns() == dict.fromkeys(
        ("email_key", "phone_key", "name_key", "postcode_key", "outcode_key", "name_sound"))


@pytest.mark.parametrize("written", ["Jean Paterson", "PATERSON, Jean", "Mrs Jean Paterson",
                                     "  jean   paterson. "])
def test_names_in_any_order_case_and_title(written: str) -> None:
    assert name_key(written) == "jean paterson"


def test_accents_apostrophes_postcodes_and_sounds() -> None:
    assert name_key("Zoë O’Neil") == name_key("zoe oneil") == "oneil zoe"
    assert postcode_key(" fk10 1eb ") == postcode_key("FK101EB") == "FK101EB"
    keys = keys_of("Jean Paterson", " Jean.Paterson@Example.COM ", None, "fk10 1eb")
    assert (keys.email_key, keys.outcode_key) == ("jean.paterson@example.com", "FK10")
    assert soundex("Paterson") == soundex("Patterson") == "P362"
    assert soundex("Ashcraft") == "A261" and soundex("Tymczak") == "T522"  # the standard's cases
    assert keys.name_sound == "J500 P362"


def test_street_spellings() -> None:
    assert spellings("Ochil Rd") == ["ochil rd", "ochil road"]
    assert "main st" in spellings("Main Street")


def test_the_migration_fills_in_existing_enquiries(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(engine, "0010")
        now = datetime(2026, 11, 2, tzinfo=UTC).isoformat()
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO enquiries (id, reference, member_id, logged_by, channel, "
                "constituent_name, constituent_address, constituent_postcode, "
                "constituent_email, constituent_phone, consent_to_share, consent_recorded_by, "
                "consent_recorded_at, category_id, service_id, description, received_at, "
                "target_date, warning_date, status, overdue, extension_days, created_at, "
                "updated_at) VALUES (:id, 'ENQ-2026-000001', 'cllr-a', 't', 'surgery', "
                "'PATERSON, Jean', '14 Ochil Road', 'FK13 6AA', 'J.P@Example.com', "
                "'+44 1259 751234', 1, 't', :now, 'pothole', 'roads', 'Light out', :now, "
                ":day, :day, 'logged', 0, 0, :now, :now)"),
                {"id": str(uuid.uuid4()), "now": now, "day": date(2026, 11, 16).isoformat()})
        upgrade(engine)
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT email_key, phone_key, name_key, postcode_key, "
                                     "outcode_key, name_sound FROM enquiries")).one()
            found = conn.execute(text("SELECT count(*) FROM enquiries_fts WHERE enquiries_fts "
                                      "MATCH '\"ochil road\"'")).scalar_one()
        assert tuple(keys) == ("j.p@example.com", "01259751234", "jean paterson", "FK136AA",
                               "FK13", "J500 P362")
        assert found == 1  # the address is in the search index now
    finally:
        engine.dispose()
