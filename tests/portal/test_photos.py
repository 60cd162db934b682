"""Photos lose what the phone wrote beside the pixels (EXIF with the GPS position, XMP,
comments) before they are stored, still show the right way up, and a file that only
starts like a picture is refused: over real HTTP, then straight from the store."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from crm_bridge.portal.photos import Photo, check_photo
from crm_bridge.store.tables import attachments
from portal.portal_support import Client, Seeded

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
ROTATED_90 = 6  # the camera was held on its side: show the picture turned 90 degrees


def phone_photo(fmt: str = "JPEG") -> bytes:
    """40x20 pixels, left half red, tagged with a GPS position, a maker and an orientation."""
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((220, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = ROTATED_90
    exif[MAKE] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (56.0, 7.0, 12.5), 3: "W", 4: (3.0, 47.0, 30.0)}
    out = io.BytesIO()
    extra = {"comment": b"Outside Jean Paterson's house", "xmp": b"<x:xmpmeta>Jean</x:xmpmeta>"}
    image.save(out, fmt, exif=exif.tobytes(), **(extra if fmt == "JPEG" else {}))
    data = out.getvalue()
    assert b"PhoneMaker" in data  # the test's own premise: the metadata is there to strip
    return data


def metadata_left(data: bytes) -> dict[str, object]:
    with Image.open(io.BytesIO(data)) as image:
        found: dict[str, object] = {k: v for k, v in image.info.items()
                                    if k in ("exif", "comment", "xmp", "XML:com.adobe.xmp")}
        if image.getexif():
            found["getexif"] = dict(image.getexif())
        return found


def test_gps_and_other_metadata_are_gone_and_the_photo_stays_upright() -> None:
    for fmt, content_type in (("JPEG", "image/jpeg"), ("PNG", "image/png")):
        photo = check_photo("IMG_0001.jpg", phone_photo(fmt), 5_000_000)
        assert isinstance(photo, Photo)
        assert photo.content_type == content_type
        assert metadata_left(photo.data) == {}
        for marker in (b"PhoneMaker", b"Jean", b"Exif\x00\x00", b"eXIf"):
            assert marker not in photo.data
        with Image.open(io.BytesIO(photo.data)) as image:
            assert image.size == (20, 40)  # turned as the orientation said, then forgotten
            assert image.convert("RGB").getpixel((10, 5))[0] > 200  # red is now on top
            assert image.convert("RGB").getpixel((10, 35))[1] > 200  # white below


def test_a_file_that_only_starts_like_a_picture_is_refused() -> None:
    message = "The photo could not be read: choose a JPG or PNG photo"
    assert check_photo("x.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", 1000) == message
    assert check_photo("x.png", b"\x89PNG\r\n\x1a\n broken", 1000) == message
    assert check_photo("x.png", b"GIF89a", 100) == "The photo must be a JPG or PNG"


def test_an_uploaded_photo_is_stored_without_its_gps_position(
    portal: Seeded, clients: dict[str, Client]
) -> None:
    client = clients["kirsty"]
    response = client.post("/enquiries/new", files={"photo": ("IMG_0001.jpg", phone_photo(),
                                                              "image/jpeg")}, data={
        "csrf_token": client.csrf, "category": "parks", "name": "Photo Tester",
        "description": "Broken bench by the pond", "consent": "no", "channel": "email"})
    assert response.status_code == 303, response.text
    with portal.bridge.engine.connect() as conn:
        stored = conn.execute(select(attachments.c.data, attachments.c.content_type)
                              .where(attachments.c.filename == "IMG_0001.jpg")).one()
    assert stored.content_type == "image/jpeg"
    assert metadata_left(bytes(stored.data)) == {}
    assert b"PhoneMaker" not in bytes(stored.data)
