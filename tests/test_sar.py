"""Subject access, erasure and rectification end to end through the CLI, on SQLite and
PostgreSQL: what a constituent gets, what the bridge keeps, what is left for the CRM."""

from __future__ import annotations

import getpass
import json
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import invoke
from sqlalchemy import insert
from support.constants import NOW
from support.privacy import person, respond, rows, search_index_hits, stored, sync_crm

from crm_bridge.app import Bridge
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.models import Enquiry, Status
from crm_bridge.portal.photos import Photo, store_photo
from crm_bridge.privacy.scrub import REMOVED
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import audit_log, enquiry_links

pytestmark = pytest.mark.timeout(120)

ISOBEL = person("Isobel Quarrier", "isobel.quarrier@example.com", "01259 111111", "FK10 2AB",
                "7 Quarry Row, Alloa")
HECTOR = person("Hector Menteith", "hector.menteith@example.com", "07700 900123", "FK10 3CD",
                "22 Menteith Gardens, Alloa")
ACTOR = f"cli:{getpass.getuser()}"


def _log(bridge: Bridge, draft: Callable[..., EnquiryDraft], **changes: object) -> Enquiry:
    return log_enquiry(bridge.engine, bridge.config, bridge.router, draft(**changes), NOW)


def _cli(config: Path, *args: str) -> dict[str, object]:
    result = invoke(["--config", str(config), *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def _caseload(bridge: Bridge, draft: Callable[..., EnquiryDraft]) -> dict[str, Enquiry]:
    """Isobel's two enquiries (one linked to Hector's), Hector's, and Isobel's open one."""
    first = _log(bridge, draft, constituent=ISOBEL, description="Pothole at Quarry Row",
                 location="Quarry Row")
    second = _log(bridge, draft, constituent={**ISOBEL, "email": None, "phone": None,
                                              "name": "isobel  QUARRIER"},
                  category_id="street-lighting", description="Light out on Quarry Row")
    hector = _log(bridge, draft, constituent=HECTOR,
                  description="Hector's pothole by the Menteith Gardens gate",
                  location="Menteith Gardens")
    still_open = _log(bridge, draft, constituent=ISOBEL, category_id="missed-bin",
                      description="Bin missed again at Quarry Row")
    # Sent before they are linked, so each keeps a case of its own, answered separately
    # (linked before, the second would be added to the first's case: tests/test_links.py).
    sync_crm(bridge, NOW + timedelta(hours=1))
    with bridge.engine.begin() as conn:
        for a, b in ((first, hector), (hector, first)):
            conn.execute(insert(enquiry_links).values(enquiry_id=str(a.id),
                                                      linked_id=str(b.id), kind="duplicate"))
        enqueue(conn, str(first.id), "add_note", {"text": f"Same issue as {hector.reference}",
                                                  "author": "Kirsty", "kind": "duplicate_link"},
                NOW)
        add_history(conn, str(first.id), NOW, "linked", "kdalgleish", hector.reference)
        add_history(conn, str(first.id), NOW, "note", "kdalgleish",
                    "Private: the councillor thinks this one is exaggerated")
        store_photo(conn, str(first.id), Photo("hole.jpg", "image/jpeg", b"\xff\xd8\xffQRY"),
                    "kdalgleish", NOW)
    closing = NOW + timedelta(days=3)
    first = respond(bridge, first, closing,
                    f"Repaired. Also reported by Hector Menteith ({hector.reference}), "
                    "who lives at 22 Menteith Gardens, Alloa.")
    second = respond(bridge, second, closing, "Lamp replaced")
    hector = respond(bridge, hector, closing, "Repaired; Isobel Quarrier reported it too")
    sync_crm(bridge, closing + timedelta(hours=2))
    return {"first": first, "second": second, "hector": hector,
            "open": stored(bridge, still_open.reference)}


def test_an_export_holds_the_subjects_data_and_none_of_the_linked_constituents(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft], tmp_path: Path
) -> None:
    made = _caseload(bridge, draft)
    out = tmp_path / "sar-17"

    summary = _cli(config_file, "sar", "export", "--email", "Isobel.Quarrier@example.com",
                   "--name", "Isobel Quarrier", "--postcode", "fk102ab", "--out", str(out),
                   "--reason", "SAR DP-2026-17")

    mine = sorted(made[k].reference for k in ("first", "second", "open"))
    assert summary["enquiries"] == mine
    assert summary["matched_by"] == {made["first"].reference: ["email", "name and postcode"],
                                     made["second"].reference: ["name and postcode"],
                                     made["open"].reference: ["email", "name and postcode"]}
    files = [Path(f) for f in summary["files"]]  # type: ignore[attr-defined]
    assert [f.suffix for f in files] == [".json", ".html", ".jpg"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert files[2].read_bytes() == b"\xff\xd8\xffQRY"
    data = json.loads(files[0].read_text(encoding="utf-8"))
    html = files[1].read_text(encoding="utf-8")
    first = next(e for e in data["enquiries"] if e["reference"] == made["first"].reference)
    assert first["constituent"]["email"] == "isobel.quarrier@example.com"
    assert first["description"] == "Pothole at Quarry Row"
    assert first["response"].startswith("Repaired. Also reported by [another person")
    assert first["linked_enquiries"] == 1
    details = {h["event"]: h["detail"] for h in first["history"]}
    assert details["note"] == "[internal note withheld]"
    assert details["linked"] == "[internal note withheld]"
    assert details["response"] == first["response"]
    assert "Isobel Quarrier" in html and "Pothole at Quarry Row" in html
    hector = made["hector"]
    for secret in (*(v for v in HECTOR.values() if v), hector.reference,
                   hector.description, "Menteith", "exaggerated"):
        assert secret.lower() not in files[0].read_text(encoding="utf-8").lower(), secret
        assert secret.lower() not in html.lower(), secret

    audit = [(a.actor, a.via, a.action, a.enquiry_id, a.detail) for a in rows(
        bridge, audit_log, audit_log.c.action == "sar_export")]
    detail = ("subject access export (found by e-mail or name and postcode); "
              "reason: SAR DP-2026-17")
    assert sorted(audit) == sorted((ACTOR, ACTOR, "sar_export", str(made[k].id), detail)
                                   for k in ("first", "second", "open"))


def test_an_export_for_someone_unknown_says_nothing_is_held_and_is_audited(
    bridge: Bridge, config_file: Path, tmp_path: Path
) -> None:
    summary = _cli(config_file, "sar", "export", "--phone", "+44 1259 999999", "--out",
                   str(tmp_path / "none"), "--reason", "SAR 18")
    assert summary["enquiries"] == []
    html = Path(summary["files"][1]).read_text(encoding="utf-8")  # type: ignore[index]
    assert "We hold no enquiries about you." in html
    assert [(a.action, a.enquiry_id) for a in rows(bridge, audit_log)] == [
        ("sar_export", None)]


def test_erasure_removes_the_subjects_data_anonymises_the_local_case_and_keeps_others(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _caseload(bridge, draft)
    args = ("sar", "erase", "--phone", "01259-111111", "--reason", "Erasure request ER-4")

    dry = _cli(config_file, *args, "--dry-run")
    assert dry["erased"] == [made["first"].reference]
    assert dry["left_open"] == [made["open"].reference]
    assert stored(bridge, made["first"].reference).constituent.name == "Isobel Quarrier"

    done = _cli(config_file, *args, "--include-open")

    erased = sorted([made["first"].reference, made["open"].reference])
    assert done["erased"] == erased and done["closed"] == [made["open"].reference]
    # Hector's record is not edited, but staff are told it names her (in his history).
    assert done["mentioned_in"] == dry["mentioned_in"] == [made["hector"].reference]
    assert done["crm"] == {"to_action": [], "anonymised": [
        {"reference": made[k].reference, "crm_ref": made[k].crm_ref}
        for k in sorted(("first", "open"), key=lambda k: made[k].reference)]}
    for key in ("first", "open"):
        gone = stored(bridge, made[key].reference)
        assert gone.constituent.name == REMOVED and gone.constituent.email is None
        assert gone.description == REMOVED and gone.response is None
        assert gone.status is Status.CLOSED and gone.purged_at is not None
        assert gone.history[-1].event == "erased"
        assert gone.history[-1].detail == (
            "personal data erased on request; reason: Erasure request ER-4")
        desk = bridge.connector().desk()  # type: ignore[attr-defined]
        assert "Quarrier" not in desk.get(made[key].crm_ref).body
    if bridge.engine.dialect.name == "sqlite":  # the second enquiry (no phone on it) only
        assert search_index_hits(bridge, "Quarrier") == 1
    assert stored(bridge, made["hector"].reference).constituent.name == "Hector Menteith"
    assert stored(bridge, made["second"].reference).constituent.name == "isobel  QUARRIER"
    assert {(a.action, a.enquiry_id) for a in rows(bridge, audit_log,
                                                   audit_log.c.action == "sar_erase")} == {
        ("sar_erase", str(made["first"].id)), ("sar_erase", str(made["open"].id))}


def test_correction_changes_the_fields_records_no_old_value_and_lists_the_crm_case(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _caseload(bridge, draft)
    ref = made["first"].reference
    with bridge.engine.begin() as conn:
        set_fields(conn, str(made["first"].id), NOW, constituent_phone="01259 111111")

    done = _cli(config_file, "sar", "correct", ref, "--set", "email=isobel@example.org",
                "--set", "phone=", "--set", "postcode=fk10 9zz", "--reason", "Told us RC-2")

    assert done["corrected"] == [ref]
    assert done["crm"] == {"to_action": [{
        "reference": ref, "crm_ref": made["first"].crm_ref,
        "why": "correct email, phone, postcode in the CRM case too"}]}
    after = stored(bridge, ref)
    assert (after.constituent.email, after.constituent.phone, after.constituent.postcode) == (
        "isobel@example.org", None, "FK10 9ZZ")
    assert after.history[-1].detail == "corrected email, phone, postcode; reason: Told us RC-2"
    everything = json.dumps([h.detail for h in after.history])
    assert "isobel.quarrier@example.com" not in everything and "111111" not in everything
    assert [(a.action, a.enquiry_id) for a in rows(bridge, audit_log,
                                                   audit_log.c.action == "sar_correct")] == [
        ("sar_correct", str(made["first"].id))]
    # Found by their details instead of by reference; a dry run changes nothing.
    dry = _cli(config_file, "sar", "correct", "--email", "isobel@example.org",
               "--set", "name=Isobel Quarrier-Bell", "--reason", "RC-3", "--dry-run")
    assert dry["corrected"] == [ref]
    assert stored(bridge, ref).constituent.name == "Isobel Quarrier"


@pytest.mark.parametrize(("args", "message"), [
    (["sar", "export", "--name", "Jo", "--out", "x", "--reason", "r"],
     "error: --postcode: give the postcode with --name (a name alone could match someone "
     "else)"),
    (["sar", "export", "--out", "x", "--reason", "r"],
     "error: --email: say whose data: --email, --phone, or --name with --postcode"),
    (["sar", "erase", "--email", "not-an-address", "--reason", "r"],
     "error: --email: must be an e-mail address like name@council.gov.uk"),
    (["sar", "erase", "--email", "a@example.com", "--reason", "  "],
     "error: --reason: say why the data is erased (it is recorded)"),
    (["sar", "correct", "ENQ-2026-000001", "--set", "colour=red", "--reason", "r"],
     "error: --set: 'colour=red' is not FIELD=VALUE with FIELD one of name, address, "
     "postcode, email, phone, uprn, location"),
    (["sar", "correct", "ENQ-2026-000001", "--set", "postcode=XYZ", "--reason", "r"],
     "error: --set postcode: must be a UK postcode like FK10 1EB"),
    (["sar", "correct", "ENQ-2026-000099", "--set", "name=A B", "--reason", "r"],
     "error: no enquiry ENQ-2026-000099: check the reference"),
])
def test_bad_requests_get_one_line_naming_the_flag(
    bridge: Bridge, config_file: Path, args: list[str], message: str
) -> None:
    result = invoke(["--config", str(config_file), *args])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == message
    assert rows(bridge, audit_log) == []


def test_a_crm_response_after_erasure_brings_back_the_status_not_the_text(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _caseload(bridge, draft)
    _cli(config_file, "sar", "erase", "--email", "isobel.quarrier@example.com", "--only",
         made["open"].reference, "--include-open", "--reason", "ER-5")
    case = made["open"].crm_ref
    # The service answers in the CRM after the bridge erased its copy (told too late).
    bridge.connector().desk().set_status(  # type: ignore[attr-defined]
        case, "resolved", "waste.officer", response="Collected from Mrs Quarrier's gate")
    sync_crm(bridge, NOW + timedelta(days=30))
    after = stored(bridge, made["open"].reference)
    assert after.response is None and after.responded_at is not None
    assert "Quarrier" not in json.dumps([h.detail for h in after.history])


def test_erasure_with_the_crm_unreachable_still_erases_and_lists_the_case(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    enquiry = _log(bridge, draft, constituent=ISOBEL)
    with bridge.engine.begin() as conn:
        set_fields(conn, str(enquiry.id), NOW, crm_ref="LOC-000042", status="closed",
                   closed_at=NOW)
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("  path: local-crm.db\n",
                                        "  path: /proc/no-such-dir/local-crm.db\n"),
                           encoding="utf-8")
    done = _cli(config_file, "sar", "erase", "--email", ISOBEL["email"], "--reason", "ER-6")
    assert done["erased"] == [enquiry.reference]
    [listed] = done["crm"]["to_action"]  # type: ignore[index]
    assert (listed["reference"], listed["crm_ref"]) == (enquiry.reference, "LOC-000042")
    assert listed["why"].startswith("the CRM connector could not be opened: local case store ")
    assert stored(bridge, enquiry.reference).constituent.name == REMOVED
