"""The portal's small pieces on their own: normalising places, throttling, photo checks,
redirect targets, and the audit writer's group commit under concurrent threads."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, insert, select

from crm_bridge.portal.db import Store
from crm_bridge.portal.duplicates import normalise
from crm_bridge.portal.photos import Photo, check_photo
from crm_bridge.portal.routes.forms import safe_next
from crm_bridge.portal.throttle import Throttle
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import audit_log


@pytest.mark.parametrize(("a", "b"), [
    ("12 Main St., Alloa", "12 main street alloa"),
    ("Mill  Lane,Menstrie", "mill lane menstrie"),
    ("Station Rd", "STATION ROAD"),
])
def test_places_normalise_alike(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


def test_throttle_window() -> None:
    now = [0.0]
    throttle = Throttle(limit=2, window=60, clock=lambda: now[0])
    throttle.failed("a")
    assert throttle.blocked("a") == 0
    throttle.failed("a")
    assert throttle.blocked("a") == 60 and throttle.blocked("b") == 0
    now[0] = 61
    assert throttle.blocked("a") == 0


def test_photo_checks_content_not_name() -> None:
    picture = io.BytesIO()
    Image.new("RGB", (2, 2)).save(picture, "JPEG")
    jpeg = check_photo("../../etc/passwd.jpg", picture.getvalue(), 10_000)
    assert isinstance(jpeg, Photo)
    assert jpeg.content_type == "image/jpeg" and jpeg.filename == "passwd.jpg"
    assert check_photo("x.png", b"GIF89a", 100) == "The photo must be a JPG or PNG"
    assert check_photo("x.png", b"", 100) == "The selected file is empty"


@pytest.mark.parametrize(("target", "expected"), [
    ("/search?q=x", "/search?q=x"), ("//evil.example", "/"), ("https://evil.example", "/"),
    (None, "/"), ("/\\evil.example", "/"),
])
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_group_commit_writes_every_row_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    store = Store(engine)
    try:
        upgrade(engine)
        now = datetime.now(UTC)

        def work(n: int) -> None:
            for i in range(20):
                store.append(insert(audit_log), [
                    {"at": now, "actor": f"t{n}", "action": "viewed", "enquiry_id": None,
                     "detail": str(i)}])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.read() as conn:
            assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 160
    finally:
        store.close()
        engine.dispose()
