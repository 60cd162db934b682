"""`retention:` in the council's config: periods per service and category, checked like every
other setting (file, line, field and fix), and the period each enquiry gets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from support.example_config import EXAMPLE, refused_edit

from crm_bridge.config.loader import load_config
from crm_bridge.privacy.retention import months_before


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_example_gives_each_enquiry_its_period() -> None:
    retention = load_config(EXAMPLE, environ={}).config.retention
    assert retention.months_for("pothole", "roads") == 24
    assert retention.months_for("housing-repair", "housing-repairs") == 36
    assert retention.months_for("antisocial-behaviour", "community-safety") == 72
    assert (retention.audit_months, retention.crm) == (24, "list")


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("    housing-repairs: 36\n", "    housing-repair: 36\n", "housing-repair: 36",
     "retention.services.housing-repair: unknown service 'housing-repair' (did you mean "
     "'housing-repairs'?)"),
    ("    antisocial-behaviour: 72\n", "    antisocial: 72\n", "antisocial: 72",
     "retention.categories.antisocial: unknown category 'antisocial' (did you mean "
     "'antisocial-behaviour'?)"),
    ("  closed_months: 24\n", "  closed_months: 0\n", "closed_months: 0",
     "retention.closed_months: Input should be greater than or equal to 1 (got 0)"),
    ("  crm: list\n", "  crm: delete\n", "crm: delete",
     "retention.crm: must be one of 'list' or 'anonymise' (got 'delete')"),
    ("  audit_months: 24\n", "  audit_month: 24\n", "audit_month: 24",
     "retention.audit_month: unknown key 'audit_month' (did you mean 'audit_months'?)"),
])
def test_a_bad_retention_setting_is_located_and_named(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    path, text, lines = refused_edit(tmp_path, old, new)
    assert lines == [f"{path}:{_line(text, needle)} {message}"]


@pytest.mark.parametrize(("moment", "months", "expected"), [
    ("2029-03-31T10:00+00:00", 1, "2029-02-28T10:00+00:00"),
    ("2028-03-31T10:00+00:00", 1, "2028-02-29T10:00+00:00"),
    ("2029-01-15T10:00+00:00", 24, "2027-01-15T10:00+00:00"),
    ("2029-01-15T10:00+00:00", -13, "2030-02-15T10:00+00:00"),
])
def test_periods_are_calendar_months(moment: str, months: int, expected: str) -> None:
    assert months_before(datetime.fromisoformat(moment), months) == datetime.fromisoformat(
        expected)
