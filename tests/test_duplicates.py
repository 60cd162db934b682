"""The duplicate check (crm_bridge/duplicates/): the same issue raised with more than one
member is found, scored and explained in words; near misses are not; each viewer sees only
what the access policy lets them, with ward colleagues' hidden matches counted."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import make_council, parse_json
from support.constants import NOW
from support.duplicate_pairs import NOW as PAIRS_NOW
from support.duplicate_pairs import PAIRS, SETTINGS
from support.example_config import EXAMPLE, refused_edit

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.config.loader import load_config
from crm_bridge.duplicates import Facts, facts_of, find_duplicates, judge
from crm_bridge.duplicates.candidates import place_terms
from crm_bridge.duplicates.compare import place_needed
from crm_bridge.models import Enquiry

PRECISION, RECALL = 0.95, 0.95


def test_the_labelled_pairs_are_told_apart_at_the_default_thresholds() -> None:
    """Precision and recall over the hand-labelled pairs (tests/support/duplicate_pairs.py),
    with the shipped defaults: 89 of 92 duplicates found (recall 0.967), 2 of 63 near
    misses taken for one (precision 0.978) when this was written."""
    defaults, settings = DuplicateSettings(), SETTINGS
    assert (settings.threshold, settings.min_text_similarity, settings.window_days,
            settings.distance_metres) == (defaults.threshold, defaults.min_text_similarity,
                                          defaults.window_days, defaults.distance_metres)
    counts: Counter[str] = Counter()
    for pair in PAIRS:
        verdict = judge(pair.new, pair.old, settings)
        found = verdict is not None and verdict.is_match
        counts[("t" if found == pair.same else "f") + ("p" if found else "n")] += 1
    assert len(PAIRS) >= 120 and sum(p.same for p in PAIRS) >= 60
    precision = counts["tp"] / (counts["tp"] + counts["fp"])
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    assert precision >= PRECISION and recall >= RECALL, (precision, recall, counts)


def test_each_kind_of_near_miss_is_mostly_refused() -> None:
    kinds: dict[str, list[bool]] = {}
    for pair in PAIRS:
        verdict = judge(pair.new, pair.old, SETTINGS)
        kinds.setdefault(pair.kind, []).append(verdict is not None and verdict.is_match)
    for kind in ("template", "months", "other-ward", "other-category"):
        assert not any(kinds[kind]), kind
    assert sum(kinds["other-issue"]) <= 1
    assert sum(kinds["points-apart"]) <= 1 and sum(kinds["points"]) >= 9
    for kind in ("landmark", "neighbours", "related", "lead"):
        assert all(kinds[kind]), kind


def _facts(category: str, text: str, place: str, days: int, ward: str = "north") -> Facts:
    return Facts(category, ward, text, PAIRS_NOW - timedelta(days=days), place)


def test_a_match_says_why_in_words() -> None:
    old = _facts("pothole", "Pothole on the bend is a danger to cyclists", "Alloa Road", 4)
    new = _facts("traffic-calming", "Dangerous bend: the pothole is a danger to cyclists",
                 "12 Alloa Rd, Tullibody", 0)
    verdict = judge(new, old, SETTINGS)
    assert verdict is not None and verdict.is_match
    assert verdict.words == f"same street, related category, 4 days ago, {verdict.text}% " \
        "similar text"
    stored = judge(new, old, SETTINGS, relative_to_now=False)
    assert stored is not None and "4 days earlier" in stored.words
    unrelated = judge(_facts("noise", new.description, "Alloa Road", 0), old, SETTINGS)
    assert unrelated is None


def test_the_window_and_thresholds_come_from_the_config() -> None:
    old = _facts("pothole", "Pothole outside the school", "Main Street", 20)
    new = _facts("pothole", "Pothole outside the school", "Main Street", 0)
    assert judge(new, old, SETTINGS) is not None
    assert judge(new, old, SETTINGS.model_copy(update={"window_days": 14})) is None
    strict = judge(new, old, SETTINGS.model_copy(update={"threshold": 99}))
    assert strict is not None and not strict.is_match


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("    - [pothole, traffic-calming]\n", "    - [pothole, trafic-calming]\n",
     "trafic-calming", "duplicates.related_categories[0][1]: unknown category "
     "'trafic-calming' (did you mean 'traffic-calming'?)"),
    ("    - [housing-repair, damp-mould]\n", "    - [housing-repair]\n", "- [housing-repair]",
     "duplicates.related_categories[2]: List should have at least 2 items after validation, "
     "not 1"),
    ("  threshold: 70\n", "  threshold: 170\n", "threshold: 170",
     "duplicates.threshold: Input should be less than or equal to 100 (got 170)"),
])
def test_a_bad_duplicates_setting_is_located_and_named(
        tmp_path: Path, old: str, new: str, needle: str, message: str) -> None:
    path, text, lines = refused_edit(tmp_path, old, new)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if needle in row)
    assert lines == [f"{path}:{line} {message}"]


def test_the_example_relates_categories_both_ways() -> None:
    settings = load_config(EXAMPLE, environ={}).config.duplicates
    assert settings.related("traffic-calming") == {"pothole", "street-lighting"}
    assert settings.related("pothole") == {"traffic-calming"}
    assert settings.related("council-tax") == set()


def _member(bridge: Bridge, member_id: str) -> Principal:
    return principal_for(bridge.config, user_id=1, username=member_id, name=member_id,
                         role=UserRole.MEMBER, member_id=member_id, staff_group=None,
                         session_id="test")


SCHOOL = "Deep pothole outside the primary school gates"


def test_the_service_finds_the_same_issue_as_each_viewer_may_see_it(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    place = {"location": "Main Street, Tillicoultry"}
    shared = log(NOW - timedelta(days=4), **place)  # Kirsty's, shared
    private = log(NOW - timedelta(days=2), member_id="cllr-iain-tennant",
                  description="Pothole by the primary school gates is deep",
                  consent_to_share=False, **place)
    mp = log(NOW - timedelta(days=1), member_id="mp-angus-tulloch", ward_id="clacks-north",
             consent_to_share=False, **place)
    related = log(NOW - timedelta(days=3), category_id="traffic-calming",
                  description=SCHOOL + ", cars swerve round it", **place)
    old = log(NOW - timedelta(days=90), **place)
    elsewhere = log(NOW - timedelta(days=1), member_id="cllr-morag-kinnaird",
                    location="Main Street, Alloa")
    other_issue = log(NOW - timedelta(days=1), description="Drain blocked and flooding the "
                      "road", **place)
    draft = Facts("pothole", "clacks-north", "Deep pothole at the school gates", NOW,
                  "outside the school, Main St, Tillicoultry")
    with bridge.engine.connect() as conn:
        shona = find_duplicates(conn, _member(bridge, "cllr-shona-carmichael"), draft,
                                bridge.config.duplicates)
        operator = find_duplicates(conn, None, draft, bridge.config.duplicates)
    assert [m.row.reference for m in shona.matches] == [shared.reference, related.reference]
    assert shona.hidden == 1  # Iain's private one; the MP's is not even counted
    assert shona.matches[0].reasons.startswith("same street, same category, 4 days ago, ")
    assert "related category, 3 days ago" in shona.matches[1].reasons
    seen = {m.row.reference for m in operator.matches}
    assert {shared.reference, private.reference, mp.reference, related.reference} == seen
    assert not seen & {old.reference, elsewhere.reference, other_issue.reference}
    assert operator.hidden == 0


def test_the_same_property_is_found_in_another_ward(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first = log(NOW - timedelta(days=5), category_id="damp-mould",
                description="Mould in the flat, tenant unwell", location=None,
                constituent={"name": "Ann Reid", "uprn": "816000123"})
    second = log(NOW, member_id="mp-angus-tulloch", category_id="housing-repair",
                 description="Tenant ill because of mould in the flat", location=None,
                 constituent={"name": "Ann Reid", "uprn": "816000123"})
    with bridge.engine.connect() as conn:
        found = find_duplicates(conn, None, facts_of(second), bridge.config.duplicates,
                                exclude=str(second.id), relative_to_now=False)
    assert [m.row.reference for m in found.matches] == [first.reference]
    assert found.matches[0].reasons.startswith("same property, related category, 5 days "
                                               "earlier")


def test_enquiry_duplicates_command(tmp_path: Path) -> None:
    council = make_council(tmp_path)
    first = council.add(location="Main Street, Alloa")
    second = council.add("--description", "Pothole at the primary school gates is deep",
                         member="cllr-fiona-rennie", location="12 Main St, Alloa")
    council.add("--description", "Bins not emptied", category="missed-bin")
    got = parse_json(council.ok("enquiry", "duplicates", second, "--json").stdout)
    assert got["reference"] == second and got["hidden"] == 0
    [match] = got["matches"]
    assert match["reference"] == first and match["score"] >= 70
    assert match["reasons"].startswith("same postcode and street, same category, same day")
    with closing(sqlite3.connect(council.store)) as conn:
        audited = conn.execute(
            "SELECT e.reference, a.detail FROM audit_log a JOIN enquiries e "
            "ON e.id = a.enquiry_id WHERE a.action = 'duplicate_check'").fetchall()
    assert sorted(audited) == sorted([(second, "cli enquiry duplicates"),
                                      (first, "cli enquiry duplicates")])
    table = council.ok("enquiry", "duplicates", first).stdout
    assert second in table and "same postcode and street" in table
    missing = council.cli("enquiry", "duplicates", "ENQ-2026-999999")
    assert missing.exit_code != 0 and "no enquiry 'ENQ-2026-999999'" in missing.output


def test_the_stores_narrowing_keeps_every_labelled_match() -> None:
    """The database is asked only for a ward's rows naming one of the new enquiry's places
    (``place_terms``): every labelled pair the check matches in one ward passes it."""
    assert place_needed(SETTINGS)
    for pair in PAIRS:
        verdict = judge(pair.new, pair.old, SETTINGS)
        if verdict is None or not verdict.is_match or pair.new.ward_id != pair.old.ward_id:
            continue
        if pair.new.uprn or pair.new.postcode or pair.new.point:
            continue  # found by the postcode, UPRN or point branch
        held = " ".join(filter(None, (pair.old.location, pair.old.address,
                                      pair.old.description))).lower()
        assert any(term in held for term in place_terms(pair.new)), pair
