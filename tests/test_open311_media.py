"""Photos on Open311 requests: with ``media_folder`` and ``media_url`` the connector
publishes each photo in the folder and posts an update carrying its address; without them
it cannot carry files and photos stay in the bridge. Purge and `sar erase` remove the
published files with the enquiry's other personal data. On SQLite and PostgreSQL where
the store is involved."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import invoke
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select, update
from support.connector_kit import make_enquiry
from support.constants import NOW
from support.open311_double import Open311Double, open311_double
from support.open311_kit import POTHOLES, connect
from support.privacy import person
from sync.council import FAST_RETRY, configure

from connectors.base import OutgoingAttachment, SendsAttachments
from connectors.open311 import Open311Settings
from crm_bridge.app import Bridge
from crm_bridge.errors import PermanentError
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.models import Enquiry
from crm_bridge.portal.photos import Photo, store_photo
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import attachments, enquiries, enquiry_history
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(120)

MEDIA_URL = "https://www.council.example/crm-photos"
KEY_VARIABLE = "OPEN311_API_KEY"


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(out, "PNG")
    return out.getvalue()


def _photo(key: str, colour: tuple[int, int, int] = (200, 30, 30)) -> OutgoingAttachment:
    data = _png(colour)
    return OutgoingAttachment(filename="pothole.png", content_type="image/png", data=data,
                              sha256=hashlib.sha256(data).hexdigest(), key=key)


def _settings(**changes: Any) -> Open311Settings:
    return Open311Settings(**{"url": "https://open311.council.example/open311/v2",
                              **changes})


# -- settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "named", "words"), [
    ({"media_folder": "photos"}, "media_url", "media_url: not set, but media_folder is"),
    ({"media_url": MEDIA_URL}, "media_folder", "media_folder: not set, but media_url is"),
    ({"media_folder": "photos", "media_url": "http://www.council.example/p"}, "media_url",
     "must be the https:// address"),
    ({"media_folder": "photos", "media_url": MEDIA_URL + "?x=1"}, "media_url",
     "no query, fragment or spaces"),
])
def test_media_settings_go_together_and_are_checked(given: dict[str, str], named: str,
                                                    words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _settings(**given)
    assert named in str(refused.value) and words in str(refused.value)


def test_media_settings_default_to_off_and_empty_values_are_unset() -> None:
    assert (_settings().media_folder, _settings().media_url) == (None, None)
    blank = _settings(media_folder="", media_url=" ")
    assert (blank.media_folder, blank.media_url) == (None, None)
    assert _settings(media_folder="p", media_url=MEDIA_URL + "/").media_url == MEDIA_URL


# -- the connector on the double --------------------------------------------------------------

@pytest.fixture
def double() -> Iterator[Open311Double]:
    with open311_double(lists_posted_updates=True) as made:
        yield made
        assert not made.problems, made.problems


def _media(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir(exist_ok=True)
    return folder


def test_a_photo_is_published_once_and_posted_as_an_update_with_its_address(
        double: Open311Double, tmp_path: Path) -> None:
    folder = _media(tmp_path)
    crm = connect(double, tmp_path=tmp_path, media_folder="published", media_url=MEDIA_URL)
    assert isinstance(crm, SendsAttachments)
    case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
    photo = _photo("photo-e1-7")

    url = crm.add_attachment(case.id, photo)

    expected = hashlib.sha256(b"photo-e1-7" + photo.sha256.encode()).hexdigest()[:32] + ".png"
    assert url == f"{MEDIA_URL}/{expected}"
    files = list(folder.iterdir())
    assert [f.name for f in files] == [expected]  # no temporary file left beside it
    assert files[0].read_bytes() == photo.data
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o640
    [posted] = double.state.requests[case.id].notes
    assert (posted["update_id"], posted["media_url"], posted["status"]) == (
        "photo-e1-7", url, "open")
    assert posted["description"].startswith("Photo from the member (pothole.png)")
    assert "pothole" not in expected

    again = connect(double, tmp_path=tmp_path, media_folder="published", media_url=MEDIA_URL)
    assert again.add_attachment(case.id, photo) == url  # a repeat, from a later run
    assert crm.add_attachment(case.id, photo) == url
    assert len(double.state.requests[case.id].notes) == 1
    assert [f.name for f in folder.iterdir()] == [expected]

    other = _photo("photo-e1-8", (30, 30, 200))
    assert crm.add_attachment(case.id, other) != url
    assert len(double.state.requests[case.id].notes) == 2


def test_the_bridges_own_photo_updates_are_not_read_back_as_responses(
        double: Open311Double, tmp_path: Path) -> None:
    _media(tmp_path)
    crm = connect(double, tmp_path=tmp_path, media_folder="published", media_url=MEDIA_URL)
    case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
    crm.add_attachment(case.id, _photo("photo-e2-1"))
    double.state.act(case.id, "in_progress", "On the list for Monday")

    read = [u for u in crm.fetch_updates(None) if getattr(u, "case_ref", None) == case.id]
    assert [getattr(u, "response", None) for u in read] == ["On the list for Monday"]


def test_a_server_that_does_not_list_updates_back_gets_a_repeat_posted_again(
        tmp_path: Path) -> None:
    """The documented limit: open311-adapter does not de-duplicate on update_id, and a
    server that does not list the bridge's updates back cannot show the earlier one."""
    with open311_double(lists_posted_updates=False) as double:
        _media(tmp_path)
        crm = connect(double, tmp_path=tmp_path, media_folder="published",
                      media_url=MEDIA_URL)
        case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
        photo = _photo("photo-e3-1")
        first = crm.add_attachment(case.id, photo)
        assert crm.add_attachment(case.id, photo) == first
        notes = double.state.requests[case.id].notes
        assert [(n["update_id"], n["media_url"]) for n in notes] == [("photo-e3-1", first)] * 2
        assert len(list((tmp_path / "published").iterdir())) == 1


def test_a_server_without_updates_refuses_the_photo_in_words_an_admin_understands(
        tmp_path: Path) -> None:
    with open311_double(updates_extension=False) as double:
        _media(tmp_path)
        crm = connect(double, tmp_path=tmp_path, media_folder="published",
                      media_url=MEDIA_URL)
        case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
        with pytest.raises(PermanentError, match=r"no servicerequestupdates.*remove "
                                                  r"media_folder and media_url"):
            crm.add_attachment(case.id, _photo("photo-e4-1"))
        assert list((tmp_path / "published").iterdir()) == []


def test_without_media_settings_the_connector_cannot_carry_files(
        double: Open311Double) -> None:
    assert not isinstance(connect(double), SendsAttachments)


def test_connector_check_names_a_missing_folder_and_says_where_photos_go(
        double: Open311Double, tmp_path: Path) -> None:
    crm = connect(double, tmp_path=tmp_path, media_folder="nowhere", media_url=MEDIA_URL)
    found = {f.subject: f for f in crm.check([POTHOLES])}
    assert not found["connector.media_folder"].ok
    assert "is not a folder: create it" in found["connector.media_folder"].detail
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    crm = connect(double, tmp_path=tmp_path, media_folder="a-file", media_url=MEDIA_URL)
    assert not {f.subject: f for f in crm.check([POTHOLES])}["connector.media_folder"].ok
    folder = _media(tmp_path)
    crm = connect(double, tmp_path=tmp_path, media_folder="published", media_url=MEDIA_URL)
    found = {f.subject: f for f in crm.check([POTHOLES])}
    assert found["connector.media_folder"].ok
    assert MEDIA_URL in found["connector.media_folder"].detail
    assert list(folder.iterdir()) == []  # the check leaves nothing behind
    plain = {f.subject for f in connect(double, tmp_path=tmp_path).check([POTHOLES])}
    assert "connector.media_folder" not in plain


# -- through sync, purge and erase ------------------------------------------------------------

def _bridge(config_file: Path, store_url: str, double: Open311Double,
            monkeypatch: pytest.MonkeyPatch, **media: str) -> Bridge:
    monkeypatch.setenv(KEY_VARIABLE, double.api_key)
    configure(config_file, replace={"connector": {
        "type": "open311", "url": double.url, "api_key": f"${{{KEY_VARIABLE}}}",
        "jurisdiction_id": double.jurisdiction_id, "timeout_seconds": 5, **media}},
        sync={"retry": dict(FAST_RETRY)}, reminders={"enabled": False})
    mapping = config_file.parent / "mappings" / "open311.yaml"
    data = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    data["services"] = dict.fromkeys(data["services"], "POT")
    mapping.write_text(yaml.safe_dump(data), encoding="utf-8")
    from crm_bridge.store.engine import make_engine

    engine = make_engine(store_url)
    upgrade(engine)
    engine.dispose()
    return Bridge.open(config_file)


def _with_photo(bridge: Bridge, draft: Callable[..., EnquiryDraft], at: datetime,
                email: str) -> Enquiry:
    enquiry = log_enquiry(bridge.engine, bridge.config, bridge.router,
                          draft(constituent=person("Agnes Kinross", email, "01259 777777")),
                          at)
    with bridge.engine.begin() as conn:
        store_photo(conn, str(enquiry.id), Photo("hole.png", "image/png", _png((9, 9, 9))),
                    "kdalgleish", at)
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      now=at + timedelta(minutes=1), only=("push",))
    assert report.ok, report.as_dict()
    return enquiry


def test_without_media_settings_sync_keeps_photos_in_the_bridge(
        config_file: Path, store_url: str, double: Open311Double,
        monkeypatch: pytest.MonkeyPatch, draft: Callable[..., EnquiryDraft]) -> None:
    bridge = _bridge(config_file, store_url, double, monkeypatch)
    try:
        enquiry = _with_photo(bridge, draft, NOW, "agnes@example.com")
        with bridge.engine.connect() as conn:
            kept = conn.execute(select(enquiry_history.c.detail).where(
                enquiry_history.c.enquiry_id == str(enquiry.id),
                enquiry_history.c.event == "photo_kept")).scalars().all()
            sent = conn.execute(select(attachments.c.sent_at)).scalars().all()
        assert kept == ["photo hole.png kept in the bridge: the CRM connector 'open311' "
                        "cannot carry files"]
        assert sent == [None]
        assert all(not n.get("media_url") for r in double.state.requests.values()
                   for n in r.notes)
    finally:
        bridge.close()


def _cli(config: Path, *args: str) -> dict[str, Any]:
    result = invoke(["--config", str(config), *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_purge_and_erase_remove_the_published_photos(
        config_file: Path, store_url: str, double: Open311Double,
        monkeypatch: pytest.MonkeyPatch, draft: Callable[..., EnquiryDraft]) -> None:
    folder = config_file.parent / "published"
    folder.mkdir()
    bridge = _bridge(config_file, store_url, double, monkeypatch, media_folder="published",
                     media_url=MEDIA_URL)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=31 * 30)
        old = _with_photo(bridge, draft, long_ago, "agnes@example.com")
        erased = _with_photo(bridge, draft, datetime.now(UTC) - timedelta(days=2),
                             "erase.me@example.com")
        kept = _with_photo(bridge, draft, datetime.now(UTC) - timedelta(days=1),
                           "keep.me@example.com")
        with bridge.engine.connect() as conn:
            urls = {str(r[0]): str(r[1]) for r in conn.execute(
                select(attachments.c.enquiry_id, attachments.c.crm_ref))}
        names = {e.reference: urls[str(e.id)].removeprefix(MEDIA_URL + "/")
                 for e in (old, erased, kept)}
        assert sorted(p.name for p in folder.iterdir()) == sorted(names.values())
        with bridge.engine.begin() as conn:
            conn.execute(update(enquiries).where(enquiries.c.id == str(old.id)).values(
                status="closed", closed_at=long_ago + timedelta(days=5)))

        dry = _cli(config_file, "purge", "--dry-run")
        assert (dry["references"], dry["media_files"]) == ([old.reference], 1)
        assert (folder / names[old.reference]).exists()
        done = _cli(config_file, "purge")
        assert (done["references"], done["media_files"]) == ([old.reference], 1)
        assert not (folder / names[old.reference]).exists()

        gone = _cli(config_file, "sar", "erase", "--email", "erase.me@example.com",
                    "--include-open", "--reason", "Erasure request ER-9")
        assert (gone["erased"], gone["media_files"]) == ([erased.reference], 1)
        assert [p.name for p in folder.iterdir()] == [names[kept.reference]]
    finally:
        bridge.close()
