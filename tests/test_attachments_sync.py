"""Photos reach the CRM case once, through the outbox; files officers put on a case come back
as links on the enquiry. On SQLite and PostgreSQL, with the local connector (the embedded
case store) as the CRM.

``FaultyFiles`` is the local connector with faults the test sets on its file calls (a reply
lost after the file was stored, a refusal); ``NoFiles`` is the local connector without the
capability to carry files; ``LinkingCrm`` adds updates carrying file links to what the
local store reports. They test how sync handles each case, not any real CRM.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cli_support import invoke, make_council
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import insert, select
from support.constants import NOW

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    Connector,
    CursorMark,
    Finding,
    Note,
    OutgoingAttachment,
    SendsAttachments,
)
from connectors.local import LocalConnector
from crm_bridge.app import Bridge
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination, Status
from crm_bridge.portal.photos import Photo, check_photo, store_photo
from crm_bridge.privacy.export import build_export
from crm_bridge.privacy.scrub import scrub
from crm_bridge.privacy.subject import Subject
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import attachments, crm_attachment_links, enquiries, outbox
from crm_bridge.sync.attachments import attachment_findings
from crm_bridge.sync.crm_files import link_name, usable_link
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(60)

SENT_AT = NOW + timedelta(hours=1)
LATER = SENT_AT + timedelta(hours=1)
NO_WAIT = RetryPolicy(attempts=1, initial_wait=0, max_wait=0, requeue_after=0)


def a_photo(colour: tuple[int, int, int] = (200, 30, 30), name: str = "pothole.jpg") -> Photo:
    image = Image.new("RGB", (24, 16), colour)
    out = io.BytesIO()
    image.save(out, "JPEG")
    photo = check_photo(name, out.getvalue(), 5_000_000)
    assert isinstance(photo, Photo)
    return photo


def attach(bridge: Bridge, enquiry: Enquiry, photo: Photo, now: datetime = NOW) -> int:
    with bridge.engine.begin() as conn:
        return store_photo(conn, str(enquiry.id), photo, "kdalgleish", now)


def sync(bridge: Bridge, connector: Connector, now: datetime = SENT_AT) -> SyncReport:
    return run_sync(bridge.engine, connector, bridge.mapping(), bridge.config, now=now,
                    policy=NO_WAIT, only=("push", "pull"))


def stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def photo_rows(bridge: Bridge) -> list[Any]:
    with bridge.engine.connect() as conn:
        return list(conn.execute(select(attachments).order_by(attachments.c.id)))


def attachment_outbox(bridge: Bridge) -> list[tuple[str, str | None]]:
    with bridge.engine.connect() as conn:
        return [(r.state, r.last_error) for r in conn.execute(
            select(outbox).where(outbox.c.kind == "add_attachment").order_by(outbox.c.id))]


def files_on_case(bridge: Bridge, enquiry: Enquiry) -> list[tuple[str, bytes]]:
    desk = local(bridge).desk()
    case = desk.find(str(enquiry.id))
    assert case is not None
    return [(f.filename, f.data) for f in desk.files(case.case_ref)]


def local(bridge: Bridge) -> LocalConnector:
    made = bridge.connector()
    assert isinstance(made, LocalConnector)
    return made


class _Local:
    """The local connector, passed through; no file capability of its own."""

    name: ClassVar[str] = "local"
    Settings: ClassVar[type[BaseModel]] = BaseModel
    Mapping: ClassVar[type[BaseMapping]] = BaseMapping

    def __init__(self, inner: LocalConnector) -> None:
        self.inner = inner

    def create_case(self, enquiry: Enquiry, destination: ServiceDestination) -> CaseRef:
        return self.inner.create_case(enquiry, destination)

    def add_note(self, case_ref: str, note: Note) -> None:
        self.inner.add_note(case_ref, note)

    def get_case(self, case_ref: str) -> CaseSnapshot:
        return self.inner.get_case(case_ref)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        return self.inner.fetch_updates(since)

    def health(self) -> None:
        self.inner.health()

    def close(self) -> None:
        self.inner.close()


class NoFiles(_Local):
    """A CRM connector that cannot carry files."""

    name: ClassVar[str] = "nofiles"


class FaultyFiles(_Local):
    """Stores files as the local connector does, failing as told on the next calls."""

    def __init__(self, inner: LocalConnector) -> None:
        super().__init__(inner)
        self.lose_reply = 0  # calls whose file is stored but whose answer never arrives
        self.refuse: PermanentError | None = None
        self.keys: list[str] = []

    def add_attachment(self, case_ref: str, attachment: OutgoingAttachment) -> str | None:
        self.keys.append(attachment.key)
        if self.refuse is not None:
            raise self.refuse
        answer = self.inner.add_attachment(case_ref, attachment)
        if self.lose_reply:
            self.lose_reply -= 1
            raise TransientError("the connection was closed before the CRM answered")
        return answer


class LinkingCrm(_Local):
    """The local store's own updates, then the ones the test adds (officers' files)."""

    def __init__(self, inner: LocalConnector) -> None:
        super().__init__(inner)
        self.extra: list[CaseUpdate] = []

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        yield from self.inner.fetch_updates(since)
        yield from self.extra


# --- sending -------------------------------------------------------------------------------


def test_a_photo_reaches_the_case_once_and_is_recorded_as_sent(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    photo = a_photo()
    attach(bridge, enquiry, photo)

    first = sync(bridge, local(bridge))
    again = sync(bridge, local(bridge), now=LATER)

    assert (first.pushed, first.photos, first.failed) == (1, 1, 0)
    assert again.photos == 0
    assert files_on_case(bridge, enquiry) == [("pothole.jpg", photo.data)]
    (row,) = photo_rows(bridge)
    assert row.sent_at == SENT_AT
    assert row.crm_ref is not None and row.crm_ref.startswith(stored(bridge, enquiry).crm_ref)
    history = [(h.event, h.detail) for h in stored(bridge, enquiry).history]
    assert ("photo_sent", f"photo pothole.jpg added to case {row.crm_ref.split('/')[0]}") \
        in history
    assert attachment_outbox(bridge) == [("done", None)]


def test_a_photo_added_after_the_case_is_open_goes_on_the_next_sync(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    sync(bridge, local(bridge))
    first, second = a_photo(name="before.jpg"), a_photo((30, 30, 200), name="after.jpg")
    attach(bridge, enquiry, first, now=SENT_AT)
    attach(bridge, enquiry, second, now=SENT_AT)

    report = sync(bridge, local(bridge), now=LATER)

    assert report.photos == 2
    assert files_on_case(bridge, enquiry) == [("before.jpg", first.data),
                                              ("after.jpg", second.data)]


def test_a_lost_reply_is_retried_with_the_same_key_and_the_case_gets_one_copy(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    attach(bridge, enquiry, a_photo())
    crm = FaultyFiles(local(bridge))
    crm.lose_reply = 1

    lost = sync(bridge, crm)
    assert (lost.photos, lost.deferred) == (0, 1)
    assert photo_rows(bridge)[0].sent_at is None
    assert attachment_outbox(bridge)[0][0] == "pending"

    retried = sync(bridge, crm, now=LATER)

    assert retried.photos == 1
    assert len(crm.keys) == 2 and crm.keys[0] == crm.keys[1]
    assert [name for name, _ in files_on_case(bridge, enquiry)] == ["pothole.jpg"]
    assert photo_rows(bridge)[0].sent_at == LATER


def test_a_refusal_fails_that_photo_only(bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    refused, fine = log(), log(description="Broken kerb by the bus stop")
    sync(bridge, local(bridge))
    crm = FaultyFiles(local(bridge))
    reason = "attachment rejected: file type not allowed on this queue"
    attach(bridge, refused, a_photo(name="huge.jpg"), now=SENT_AT)
    crm.refuse = PermanentError(reason)
    report = sync(bridge, crm, now=LATER)
    crm.refuse = None
    attach(bridge, fine, a_photo(name="kerb.jpg"), now=LATER)
    later = sync(bridge, crm, now=LATER + timedelta(hours=1))

    assert (report.failed, report.photos) == (1, 0)
    assert attachment_outbox(bridge) == [("failed", reason), ("done", None)]
    failed = [e.detail for e in stored(bridge, refused).history if e.event == "failed_to_send"]
    assert failed == [reason]
    assert stored(bridge, refused).status is Status.SENT  # the enquiry itself is not failed
    assert (later.failed, later.photos) == (0, 1)
    assert [name for name, _ in files_on_case(bridge, fine)] == ["kerb.jpg"]
    assert files_on_case(bridge, refused) == []


def test_a_photo_waits_for_its_case(bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    """Queued before the case opens, sent in the run that opens it (the outbox is in order)."""
    enquiry = log()
    attach(bridge, enquiry, a_photo())
    report = sync(bridge, local(bridge))
    assert (report.pushed, report.photos, report.deferred) == (1, 1, 0)
    assert len(files_on_case(bridge, enquiry)) == 1


def test_a_connector_without_files_keeps_photos_and_says_so_once(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    one, two = log(), log(description="Broken kerb by the bus stop")
    attach(bridge, one, a_photo())
    attach(bridge, two, a_photo(name="kerb.jpg"))
    crm = NoFiles(local(bridge))

    first = sync(bridge, crm)
    second = sync(bridge, crm, now=LATER)

    said = ("2 photo(s) kept in the bridge: the CRM connector 'nofiles' cannot carry files, "
            "so officers do not see them on the case")
    assert first.problems == [said]
    assert (first.photos_kept, first.ok) == (2, True)
    assert second.problems == [] and second.photos_kept == 0
    assert [r.sent_at for r in photo_rows(bridge)] == [None, None]
    assert attachment_outbox(bridge) == [("done", None), ("done", None)]
    kept = [e.detail for e in stored(bridge, one).history if e.event == "photo_kept"]
    assert kept == ["photo pothole.jpg kept in the bridge: the CRM connector 'nofiles' cannot "
                    "carry files"]


def test_connector_check_says_whether_photos_reach_the_crm(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    refused, waiting = log(), log(description="Broken kerb by the bus stop")
    sync(bridge, local(bridge))
    attach(bridge, refused, a_photo(name="huge.jpg"), now=SENT_AT)
    crm = FaultyFiles(local(bridge))
    crm.refuse = PermanentError("file type not allowed")
    sync(bridge, crm, now=LATER)
    attach(bridge, waiting, a_photo(), now=LATER)
    assert isinstance(local(bridge), SendsAttachments)

    (takes,) = attachment_findings(bridge.engine, local(bridge))
    (cannot,) = attachment_findings(bridge.engine, NoFiles(local(bridge)))

    assert takes == Finding("photos", True, "the CRM takes photos: each goes to its case on "
                            "the sync after the case opens; 1 waiting for their case or a "
                            "retry; 1 refused by the CRM (`crm-bridge enquiry show` gives its "
                            "words; `crm-bridge enquiry retry` sends one again)")
    assert cannot == Finding("photos", True, "the 'nofiles' connector cannot carry files: "
                             "photos stay in the bridge (the portal shows them; each "
                             "enquiry's history says so) and officers do not see them on the "
                             "case")


# --- receiving -----------------------------------------------------------------------------


def officer_file(enquiry: Enquiry, case_ref: str, url: str, event: str = "ev-1",
                 actor: str = "roads.officer") -> CaseUpdate:
    return CaseUpdate(event_id=event, case_ref=case_ref, external_ref=str(enquiry.id),
                      occurred_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC), cursor="9999",
                      response="Repaired; photo attached.", actor=actor, attachments=(url,))


def links(bridge: Bridge) -> list[tuple[str, str, str, str, datetime]]:
    with bridge.engine.connect() as conn:
        return [(r.enquiry_id, r.name, r.url, r.added_by, r.added_at) for r in conn.execute(
            select(crm_attachment_links).order_by(crm_attachment_links.c.id))]


def test_files_from_the_crm_are_kept_as_links_once(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    crm = LinkingCrm(local(bridge))
    sync(bridge, crm)
    case_ref = stored(bridge, enquiry).crm_ref
    assert case_ref
    url = "https://rt.example.gov.uk/Ticket/Attachment/41/97/after%20repair.jpg"
    crm.extra = [officer_file(enquiry, case_ref, url),
                 officer_file(enquiry, case_ref, "javascript:alert(1)", event="ev-2")]

    first = sync(bridge, crm, now=LATER)
    again = sync(bridge, crm, now=LATER + timedelta(hours=1))  # the same change read again

    assert links(bridge) == [(str(enquiry.id), "after repair.jpg", url, "roads.officer",
                              datetime(2026, 3, 9, 10, 0, tzinfo=UTC))]
    assert first.problems == ["a CRM file link was not kept: it is not an http(s) address "
                              "of at most 1000 characters"]
    assert stored(bridge, enquiry).response == "Repaired; photo attached."
    assert again.updated == 0


def _with_link(bridge: Bridge, enquiry: Enquiry) -> None:
    with bridge.engine.begin() as conn:
        conn.execute(insert(crm_attachment_links).values(
            enquiry_id=str(enquiry.id), url="https://crm.example/f/1/drive.jpg",
            name="drive.jpg", added_by="roads.officer", added_at=NOW, recorded_at=NOW,
            crm_event_id="ev-1"))


def test_purge_and_erasure_remove_the_links(bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    _with_link(bridge, enquiry)
    with bridge.engine.begin() as conn:
        removed = scrub(conn, [str(enquiry.id)], LATER)
    assert removed.crm_links == 1
    assert links(bridge) == []


def test_a_subject_access_export_lists_the_links(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    _with_link(bridge, enquiry)
    config: CouncilConfig = bridge.config
    subject = Subject.of("jean.paterson@example.com", None, None, None)
    with bridge.engine.connect() as conn:
        export = build_export(conn, config, subject, LATER)
    (item,) = export.data["enquiries"]
    assert [(f["name"], f["url"]) for f in item["crm_files"]] == [
        ("drive.jpg", "https://crm.example/f/1/drive.jpg")]


def test_anonymising_a_local_case_removes_its_files(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    attach(bridge, enquiry, a_photo())
    sync(bridge, local(bridge))
    assert len(files_on_case(bridge, enquiry)) == 1
    local(bridge).anonymise_case(str(stored(bridge, enquiry).crm_ref))
    assert files_on_case(bridge, enquiry) == []


# --- end to end, through the command line --------------------------------------------------


def test_a_photo_goes_from_the_store_to_the_officers_case_through_the_cli(
        tmp_path: Path) -> None:
    council = make_council(tmp_path)
    reference = council.add()
    photo = a_photo(name="bins.jpg")
    engine = make_engine(f"sqlite:///{council.store}")
    try:
        with engine.begin() as conn:
            (enquiry_id,) = conn.execute(select(enquiries.c.id)
                                         .where(enquiries.c.reference == reference)).one()
            store_photo(conn, enquiry_id, photo, "kdalgleish", NOW)
    finally:
        engine.dispose()

    first = json.loads(council.ok("sync", "--only", "push", "--json").stdout)
    again = json.loads(council.ok("sync", "--only", "push", "--json").stdout)
    case_ref = json.loads(council.ok("enquiry", "show", reference, "--json").stdout)["crm_ref"]
    shown = json.loads(council.ok("officer", "show", case_ref, "--json").stdout)
    text = council.ok("officer", "show", case_ref).output

    assert (first["pushed"], first["photos"], again["photos"]) == (1, 1, 0)
    assert [(f["filename"], f["content_type"], f["size"]) for f in shown["files"]] == [
        ("bins.jpg", "image/jpeg", len(photo.data))]
    assert f"  bins.jpg (image/jpeg, {len(photo.data)} bytes): {case_ref}/file/1" in text
    ((sent_at,),) = council.sql("SELECT sent_at FROM attachments")
    assert sent_at is not None


def test_enquiry_retry_sends_a_refused_photo_again(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    enquiry = log()
    sync(bridge, local(bridge))
    attach(bridge, enquiry, a_photo(), now=SENT_AT)
    crm = FaultyFiles(local(bridge))
    crm.refuse = PermanentError("the case is locked")
    assert sync(bridge, crm, now=LATER).failed == 1
    crm.refuse = None

    retried = invoke(["--config", str(bridge.loaded.path), "enquiry", "retry",
                      enquiry.reference])
    after = sync(bridge, crm, now=LATER + timedelta(hours=1))

    assert retried.exit_code == 0, retried.output
    assert (after.photos, after.failed) == (1, 0)
    assert [name for name, _ in files_on_case(bridge, enquiry)] == ["pothole.jpg"]
    assert stored(bridge, enquiry).status is Status.SENT


def test_only_absolute_http_links_of_bounded_length_are_kept() -> None:
    assert usable_link("https://rt.example.gov.uk/Ticket/Attachment/1/2/a.jpg")
    assert usable_link("HTTP://crm.example/f/1")
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "/Ticket/Attachment/1/2/a.jpg",
                "https:///no-host", "https://crm.example/" + "é" * 500, "http://[::1"):
        assert not usable_link(bad), bad
    assert link_name("https://crm.example/f/7/after%20repair.jpg") == "after repair.jpg"
    assert link_name("https://crm.example/") == "file"
