"""Members leaving office and ward boundary changes, through the CLI on SQLite and
PostgreSQL: who may take over which enquiry, what stays, and that history is not rewritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import invoke
from sqlalchemy import insert
from support.constants import NOW
from support.privacy import respond, rows, stored

from crm_bridge.app import Bridge
from crm_bridge.errors import InputError
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.models import Enquiry
from crm_bridge.store.stats import enquiry_totals
from crm_bridge.store.tables import audit_log, outbox, portal_sessions, users

pytestmark = pytest.mark.timeout(120)

KIRSTY, IAIN, MORAG, MP = ("cllr-kirsty-dalgleish", "cllr-iain-tennant", "cllr-morag-kinnaird",
                           "mp-angus-tulloch")


def _log(bridge: Bridge, draft: Callable[..., EnquiryDraft], **changes: object) -> Enquiry:
    return log_enquiry(bridge.engine, bridge.config, bridge.router, draft(**changes), NOW)


def _run(config: Path, *args: str) -> dict[str, object]:
    result = invoke(["--config", str(config), *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def _kirstys(bridge: Bridge, draft: Callable[..., EnquiryDraft]) -> dict[str, Enquiry]:
    shared = _log(bridge, draft, consent_to_share=True)
    private = _log(bridge, draft, consent_to_share=False, description="A private matter")
    done = _log(bridge, draft, category_id="missed-bin")
    done = respond(bridge, done, NOW + timedelta(days=2), "Collected")
    with bridge.engine.begin() as conn:
        user = conn.execute(insert(users).values(
            username="kdalgleish", display_name="Kirsty Dalgleish", role="member",
            member_id=KIRSTY, active=True, failed_logins=0, created_at=NOW)
            .returning(users.c.id)).scalar_one()
        conn.execute(insert(portal_sessions).values(
            id="c" * 64, user_id=user, created_at=NOW, last_seen_at=NOW,
            expires_at=NOW + timedelta(days=999), via="password"))
    return {"shared": shared, "private": private, "done": done}


def test_retiring_hands_over_within_consent_holds_the_rest_and_archives_the_closed(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _kirstys(bridge, draft)
    args = ("member", "retire", KIRSTY, "--handover-to", IAIN, "--reason", "stood down")

    dry = _run(config_file, *args, "--dry-run")
    assert dry["handed_over"] == [made["shared"].reference]
    assert stored(bridge, made["shared"].reference).member_id == KIRSTY

    done = _run(config_file, *args)

    assert done["handed_over"] == [made["shared"].reference]
    assert done["held"] == [{"reference": made["private"].reference, "why": (
        "the constituent has not agreed to share it with Iain Tennant: ask them, then run "
        "this again with --consented REF")}]
    assert (done["archived"], done["accounts_disabled"]) == (1, ["kdalgleish"])
    moved = stored(bridge, made["shared"].reference)
    assert moved.member_id == IAIN
    assert moved.history[-1].event == "handed_over"
    assert moved.history[-1].detail == ("from Kirsty Dalgleish (left office) to Iain Tennant; "
                                        "within the constituent's consent to share with the ward")
    assert [r.payload["text"] for r in rows(bridge, outbox, outbox.c.enquiry_id == str(
        moved.id), outbox.c.kind == "add_note")] == ["Now handled by Iain Tennant"]
    assert stored(bridge, made["private"].reference).member_id == KIRSTY
    archived = stored(bridge, made["done"].reference)
    assert archived.archived_at is not None and archived.member_id == KIRSTY
    assert [u.active for u in rows(bridge, users)] == [False]
    assert rows(bridge, portal_sessions) == []
    # The member can no longer be chosen for new enquiries.
    with pytest.raises(InputError, match=r"^member: Kirsty Dalgleish left office on "):
        _log(bridge, draft)
    # Once the constituent agrees, a second run hands the held one over too.
    again = _run(config_file, *args, "--consented", made["private"].reference.lower())
    assert (again["handed_over"], again["held"], again["archived"]) == (
        [made["private"].reference], [], 0)
    assert stored(bridge, made["private"].reference).history[-1].detail.endswith(
        "; the constituent agreed (recorded by staff)")
    listed = _run(config_file, "member", "list")
    assert [(d["member"], d["handover_to"], d["reason"]) for d in listed] == [  # type: ignore[index, union-attr]
        (KIRSTY, IAIN, "stood down")]
    actions = [a.action for a in rows(bridge, audit_log)]
    assert actions.count("handed_over") == 2 and actions.count("member_retired") == 1


@pytest.mark.parametrize(("successor", "message"), [
    (MP, "error: --handover-to: Angus Tulloch MP is an MP and Kirsty Dalgleish a councillor: "
         "enquiries pass only within the same office (another office is another data "
         "controller); name a member of the same office"),
    (KIRSTY, "error: --handover-to: name another member: the one leaving cannot take over "
             "their own enquiries"),
    ("cllr-iain-tenant", "error: --handover-to: unknown member 'cllr-iain-tenant' (did you "
                         "mean 'cllr-iain-tennant'?)"),
])
def test_a_handover_outside_the_office_is_refused_and_changes_nothing(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft], successor: str,
    message: str
) -> None:
    made = _kirstys(bridge, draft)
    result = invoke(["--config", str(config_file), "member", "retire", KIRSTY,
                     "--handover-to", successor])
    assert (result.exit_code, result.output.strip()) == (2, message)
    assert stored(bridge, made["shared"].reference).member_id == KIRSTY
    assert rows(bridge, audit_log) == []


def test_a_councillor_for_another_ward_takes_nothing(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _kirstys(bridge, draft)
    done = _run(config_file, "member", "retire", KIRSTY, "--handover-to", MORAG,
                "--consented", made["private"].reference)
    assert done["handed_over"] == []
    assert [h["why"] for h in done["held"]] == [  # type: ignore[union-attr]
        "logged in ward 'clacks-north', and Morag Kinnaird sits for 'clacks-west': hand it "
        "to a member for that ward"] * 2


def test_a_ward_change_keeps_each_enquiry_in_the_ward_it_was_logged_in(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    before_change = _log(bridge, draft)
    with bridge.engine.connect() as conn:
        totals = enquiry_totals(conn, "Europe/London")
    # Boundary review: Kirsty now sits for Clackmannanshire West.
    text = config_file.read_text(encoding="utf-8")
    text = text.replace("      - cllr-kirsty-dalgleish\n", "", 1)
    text = text.replace("      - cllr-morag-kinnaird\n",
                        "      - cllr-morag-kinnaird\n      - cllr-kirsty-dalgleish\n", 1)
    config_file.write_text(text, encoding="utf-8")
    moved = Bridge.open(config_file)
    try:
        after_change = log_enquiry(moved.engine, moved.config, moved.router, draft(),
                                   NOW + timedelta(days=1))
        assert after_change.ward_id == "clacks-west"
        assert stored(moved, before_change.reference).ward_id == "clacks-north"
        shown = _run(config_file, "enquiry", "show", before_change.reference)
        assert shown["ward_id"] == "clacks-north"
        with moved.engine.connect() as conn:
            now_totals = enquiry_totals(conn, "Europe/London")
            assert now_totals.by_ward["clacks-north"] == totals.by_ward["clacks-north"] == 1
            assert now_totals.by_ward["clacks-west"] == 1
        # A handover follows the ward the enquiry was logged in, not the member's new one.
        done = _run(config_file, "member", "retire", KIRSTY, "--handover-to", IAIN)
        assert done["handed_over"] == [before_change.reference]
        assert [h["reference"] for h in done["held"]] == [  # type: ignore[union-attr]
            after_change.reference]
    finally:
        moved.close()


@pytest.mark.parametrize(("args", "message"), [
    (["member", "retire", "cllr-kirsty", "--handover-to", IAIN],
     "error: MEMBER: unknown member 'cllr-kirsty' (did you mean 'cllr-kirsty-dalgleish'?)"),
    (["member", "retire", KIRSTY, "--handover-to", IAIN, "--consented", "ENQ-2026-000999"],
     "error: --consented: ENQ-2026-000999 is not an open enquiry of Kirsty Dalgleish's"),
    (["member", "retire", KIRSTY, "--handover-to", IAIN, "--reason", " "],
     "error: --reason: say why the member left office (it is recorded)"),
])
def test_bad_retire_input_gets_one_line_and_records_nothing(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft], args: list[str],
    message: str
) -> None:
    _kirstys(bridge, draft)
    result = invoke(["--config", str(config_file), *args])
    assert (result.exit_code, result.output.strip()) == (2, message)
    assert rows(bridge, audit_log) == []
    assert _run(config_file, "member", "list") == []  # type: ignore[comparison-overlap]
