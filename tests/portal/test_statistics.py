"""The statistics page: staff see the council's figures (and by member only for the members
their group works for); a member sees their own beside their ward's and the council's and no
other member's; no personal data anywhere; small counts suppressed; a CSV of each table."""

from __future__ import annotations

import csv
import html as html_module
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm_bridge.store.tables import enquiries
from portal.portal_support import SEEDS, Client, Seeded

YEAR = str(datetime.now(UTC).year)


def _table(html: str, table_id: str) -> list[list[str]]:
    found = re.search(rf'<table class="govuk-table portal-table" id="{table_id}">(.*?)</table>',
                      html, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", found.group(1), re.S)
    return [[html_module.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in
             re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def _received(portal: Seeded, *conditions: object) -> int:
    with portal.bridge.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(enquiries).where(
            func.substr(enquiries.c.received_at, 1, 4) == YEAR, *conditions)).scalar_one())


def _shown(count: int) -> str:
    return "<5" if 0 < count < 5 else str(count)


def test_staff_see_the_councils_figures_and_only_their_groups_members(
        portal: Seeded, clients: dict[str, Client]) -> None:
    page = clients["staff"].get("/statistics", params={"period": YEAR})
    assert page.status_code == 200
    html = page.text
    assert [t for t in ("summary", "by-ward", "by-service", "by-month", "by-member")
            if f'id="{t}"' in html] == ["summary", "by-ward", "by-service", "by-month",
                                        "by-member"]
    total = _table(html, "summary")[1]
    assert total[0] == "All enquiries" and total[1] == _shown(_received(portal))
    members = [row[0] for row in _table(html, "by-member")[1:]]
    assert "Kirsty Dalgleish" in members and "Angus Tulloch MP" not in members
    office = _table(clients["mpoffice"].get("/statistics").text, "by-member")
    assert [row[0] for row in office[1:]] == ["Angus Tulloch MP"]
    assert '<svg class="portal-chart" id="by-ward-chart" role="img"' in html


def test_a_member_sees_their_own_beside_their_ward_and_the_council(
        portal: Seeded, clients: dict[str, Client]) -> None:
    html = clients["kirsty"].get("/statistics", params={"period": YEAR}).text
    rows = _table(html, "compared")
    assert [r[0] for r in rows[1:]] == ["Your enquiries",
                                        "All enquiries in Clackmannanshire North",
                                        "All enquiries in the council"]
    assert rows[1][1] == _shown(_received(portal,
                                          enquiries.c.member_id == "cllr-kirsty-dalgleish"))
    assert rows[2][1] == _shown(_received(portal, enquiries.c.ward_id == "clacks-north"))
    assert rows[3][1] == _shown(_received(portal))
    assert 'id="by-member"' not in html
    for other in ("Iain Tennant", "Morag Kinnaird", "Angus Tulloch", "Eilidh Brodie"):
        assert other not in html  # no other member's figures, not even their name
    assert 'id="ward"' not in html  # a member's ward is their own: no ward filter


@pytest.mark.parametrize("user", ["staff", "kirsty", "angus"])
def test_no_personal_data_on_the_page_or_in_the_csv(portal: Seeded, clients: dict[str, Client],
                                                   user: str) -> None:
    client = clients[user]
    html = client.get("/statistics").text
    downloads = re.findall(r'href="(/statistics/[a-z-]+\.csv\?[^"]*)"', html)
    assert len(downloads) == html.count("<section aria-labelledby=")
    texts = [html] + [client.get(link.replace("&amp;", "&")).text for link in downloads]
    for text in texts:
        for key, (_, _, name, _, location) in SEEDS.items():
            assert name not in text and portal.refs[key] not in text
            assert not location or location not in text


def test_each_table_downloads_as_csv_with_the_pages_figures(clients: dict[str, Client]) -> None:
    client = clients["staff"]
    params = {"period": YEAR, "service": "roads"}
    html = client.get("/statistics", params=params).text
    download = client.get("/statistics/by-ward.csv", params=params)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="statistics-by-ward-{YEAR}.csv"')
    assert list(csv.reader(io.StringIO(download.text))) == _table(html, "by-ward")


def test_filters_narrow_every_table(portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["staff"]
    html = client.get("/statistics", params={"period": YEAR, "ward": "clacks-west"}).text
    assert [r[0] for r in _table(html, "by-ward")[1:]] == ["Clackmannanshire West"]
    total = _table(html, "summary")[1]
    assert total[0] == "All enquiries in Clackmannanshire West"
    assert total[1] == _shown(_received(portal, enquiries.c.ward_id == "clacks-west"))


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"period": "2026H3"}, "period", "Enter the period as a year"),
    ({"service": "no-such-service"}, "service", "Choose a service from the list"),
    ({"ward": "no-such-ward"}, "ward", "Choose a ward from the list"),
])
def test_a_bad_filter_is_named(clients: dict[str, Client], params: dict[str, str], field: str,
                               message: str) -> None:
    page = clients["staff"].get("/statistics", params=params)
    assert page.status_code == 400
    assert f'<a href="#{field}">{message}' in page.text
    download = clients["staff"].get("/statistics/summary.csv", params=params)
    assert download.status_code == 400 and message in download.text


def test_who_may_not_see_statistics(clients: dict[str, Client], anonymous: Client) -> None:
    assert clients["admin"].get("/statistics").status_code == 403
    assert clients["admin"].get("/statistics/summary.csv").status_code == 403
    assert anonymous.get("/statistics").status_code == 303
    assert anonymous.get("/statistics/summary.csv").status_code == 303
    assert clients["kirsty"].get("/statistics", params={"ward": "clacks-north"}
                                 ).status_code == 400  # a member's ward is fixed
    assert clients["kirsty"].get("/statistics/by-member.csv").status_code == 404


def test_a_new_enquiry_is_counted_at_once(portal: Seeded, clients: dict[str, Client]) -> None:
    """The figures are kept between requests, but not past the arrival of an enquiry."""
    client = clients["staff"]

    def received() -> str:
        return _table(client.get("/statistics", params={"period": YEAR}).text, "summary")[1][1]

    before = received()
    assert received() == before == _shown(_received(portal))
    logged = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "member": "cllr-morag-kinnaird", "category": "parks", "name": "Counted Once",
        "description": "Gate broken", "consent": False})
    assert logged.status_code == 201
    assert received() == _shown(_received(portal)) != before
