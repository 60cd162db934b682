"""The portal in a real browser (Debian's Chromium driven by Playwright): a member's journey
from sign-in to sign-out, with axe-core on every page, a screenshot of every page in
test-artifacts/portal/, and the network log proving nothing is loaded from another host.

Chromium is required: a missing browser fails the tests, it never skips them
(`make test` installs it with scripts/ensure-browser.sh).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import delete, insert

from crm_bridge.store.tables import crm_attachment_links
from portal.portal_support import PASSWORD, REPO, SEEDS, Seeded, respond

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "portal"
AXE = REPO / "crm_bridge" / "portal" / "static" / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHOTO = bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2213bc50000000049454e44ae426082")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'bash scripts/ensure-browser.sh' (or apt-get "
                    "install chromium); the browser tests are not optional", pytrace=False)
    if not AXE.exists():
        pytest.fail("axe-core is not built: run 'bash scripts/build-assets.sh'", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


class Journey:
    """A browser context that records every request and checks each page it visits."""

    def __init__(self, context: BrowserContext, base_url: str, prefix: str) -> None:
        self.context = context
        self.base_url = base_url
        self.prefix = prefix
        self.requests: list[str] = []
        self.errors: list[str] = []  # script errors, CSP refusals, failed loads but pages
        self.page: Page = context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # A Content-Security-Policy violation is only reported on the console.
        self.page.on("console", lambda message: self.errors.append(message.text)
                     if "Content Security Policy" in message.text
                     or "Refused to" in message.text else None)
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                     if r.status >= 400 and r.request.resource_type != "document" else None)
        self.shots = 0

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def check(self, name: str) -> None:
        """Screenshot the page, then run axe on it: no serious or critical violations."""
        self.page.wait_for_load_state("networkidle")
        self.shots += 1
        self.page.screenshot(path=ARTIFACTS / f"{self.prefix}{self.shots:02d}-{name}.png",
                             full_page=True)
        found = self.page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' '))}))", AXE_TAGS)
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: " + json.dumps(bad, indent=1)

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests
                if urlsplit(url).scheme not in ("data", "blob", "about")}


def _journey(browser: Browser, portal: Seeded, prefix: str, **options: object
             ) -> Journey:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.add_init_script(path=str(AXE))  # not subject to the page's CSP, so CSP stays on
    return Journey(context, portal.base_url, prefix)


def _sign_in(j: Journey, username: str, password: str = PASSWORD) -> None:
    j.goto("/")
    assert j.page.url.startswith(j.base_url + "/sign-in")
    j.check("sign-in")
    j.page.get_by_label("Username").fill(username)
    j.page.get_by_label("Password", exact=True).fill(password)
    j.page.get_by_role("button", name="Sign in").click()


def test_member_journey(browser: Browser, portal: Seeded) -> None:
    j = _journey(browser, portal, "desktop-", viewport={"width": 1280, "height": 900})
    page = j.page
    try:
        # A wrong password: the error summary, focused by GOV.UK Frontend's script.
        _sign_in(j, "kirsty", "not the password")
        assert page.locator(".govuk-error-summary").is_visible()
        assert page.title().startswith("Error:")
        j.check("sign-in-error")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        page.wait_for_url(j.base_url + "/")
        j.check("dashboard")
        mine = page.locator("#mine").inner_text()
        assert portal.refs["own_shared"] in mine and portal.refs["own_private"] in mine
        shared = page.locator("#shared").inner_text()
        assert portal.refs["colleague_shared"] in shared
        assert SEEDS["colleague_shared"][2] in shared
        assert portal.refs["colleague_private"] not in page.content()
        assert SEEDS["colleague_private"][2] not in page.content()

        # Log an enquiry: the page shows the colleague's shared enquiry (the same street and
        # category, a similar description) as a possible duplicate while it is being filled
        # in (the JSON endpoint), then the reference at once.
        page.get_by_role("link", name="Log an enquiry").first.click()
        page.wait_for_url("**/enquiries/new")
        j.check("new-enquiry")
        page.get_by_role("button", name="Log enquiry").click()
        assert page.locator(".govuk-error-summary").is_visible()
        j.check("new-enquiry-errors")
        page.get_by_label("What is it about?").select_option("street-lighting")
        page.get_by_label("Constituent’s name").fill("Isla <b>Brown</b>")
        page.get_by_label("Constituent’s postcode (optional)").fill("fk12 5aa")
        page.get_by_label("What do they want the council to do?").fill(
            "Please look into it: the street light outside number 4 is out")
        page.get_by_label("Where is the problem? (optional)").fill("Mill Lane,  Menstrie")
        page.get_by_label("Where is the problem? (optional)").blur()
        duplicate = page.locator("#duplicates")
        duplicate.get_by_text(portal.refs["colleague_shared"]).wait_for()
        assert "same street, same category, 3 days ago" in duplicate.inner_text()
        # The constituent's other enquiries, once an e-mail is typed (a POST, not a URL).
        page.get_by_text("Add their address, email or phone").click()
        page.get_by_label("Email address").fill("colleague_shared@example.com")
        history = page.locator("#history-panel")
        history.get_by_text(portal.refs["colleague_shared"]).wait_for()
        assert "Same e-mail" in history.inner_text()
        page.get_by_label("Yes, they agreed").check()
        page.get_by_label("Photo (optional)").set_input_files(
            files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PHOTO}])
        j.check("new-enquiry-duplicates")
        page.get_by_role("button", name="Log enquiry").click()

        page.wait_for_url("**/logged")
        reference = page.locator("#reference").inner_text().strip()
        assert reference.startswith("ENQ-")
        assert portal.refs["colleague_shared"] in page.locator("form").last.inner_text()
        # The same match on the confirmation page (which works without JavaScript), why.
        assert "Same street, same category, 3 days ago" in page.locator("form").last.inner_text()
        j.check("logged")
        page.get_by_label(portal.refs["colleague_shared"], exact=False).check()
        page.get_by_role("button", name="Link selected enquiries").click()

        page.wait_for_url(f"**/enquiries/{reference}")
        assert "Isla <b>Brown</b>" in page.locator("main").inner_text()  # escaped, not bold
        assert page.locator("main b").count() == 0
        assert portal.refs["colleague_shared"] in page.locator("#linked").inner_text()
        assert page.locator("img.portal-photo").evaluate("img => img.naturalWidth") == 1
        page.get_by_label("Note for the service").fill("The constituent called again")
        page.get_by_role("button", name="Add note").click()
        page.wait_for_url(f"**/enquiries/{reference}?noted=1#notes")
        assert "The constituent called again" in page.locator("#history").inner_text()
        j.check("enquiry")

        # Unlink: a reason is required (the error summary), then both histories record it.
        page.get_by_text("Unlink an enquiry that is not the same issue").click()
        page.get_by_role("button", name="Unlink").click()
        assert page.locator(".govuk-error-summary").is_visible()
        j.check("unlink-error")
        page.get_by_label("Why they are not the same issue").fill("A different lamp post")
        page.get_by_role("button", name="Unlink").click()
        page.wait_for_url(f"**/enquiries/{reference}#linked")
        assert page.locator("#linked").count() == 0
        assert "A different lamp post" in page.locator("#history").inner_text()

        page.get_by_role("link", name="Dashboard").click()
        assert reference in page.locator("#mine").inner_text()

        page.get_by_role("link", name="Search").click()
        j.check("search-empty")
        page.get_by_label("Reference, name, postcode").fill("Menstrie")
        page.get_by_role("button", name="Search").click()
        results = page.locator("#results").inner_text()
        assert reference in results and portal.refs["colleague_shared"] in results
        assert portal.refs["other_shared"] not in results
        j.check("search-results")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signed-out")
        j.check("signed-out")
        j.goto(f"/enquiries/{reference}")
        assert "/sign-in" in page.url
        assert j.hosts() == {urlsplit(j.base_url).netloc}, j.requests
        assert not j.errors, j.errors
    finally:
        j.context.close()


def test_staff_and_admin_pages_on_a_phone(browser: Browser, portal: Seeded) -> None:
    j = _journey(browser, portal, "phone-", viewport={"width": 375, "height": 740},
                 is_mobile=True, has_touch=True)
    page = j.page
    try:
        _sign_in(j, "staff")
        page.wait_for_url(j.base_url + "/")
        j.check("staff-dashboard")
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("link", name="Log an enquiry").click()
        j.check("staff-new-enquiry")
        j.goto(f"/enquiries/{portal.refs['other_private']}")
        j.check("staff-enquiry")
        j.goto("/reassign")
        j.check("reassign")
        j.goto("/statistics")
        assert page.locator("#by-ward-chart").is_visible()  # inline SVG, allowed by the CSP
        j.check("staff-statistics")
        j.goto("/statistics?period=2026H3")
        assert page.locator(".govuk-error-summary").is_visible()
        j.check("staff-statistics-error")
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signed-out")
        _sign_in(j, "admin")
        page.wait_for_url("**/users")
        j.check("users")
        assert j.hosts() == {urlsplit(j.base_url).netloc}, j.requests
        assert not j.errors, j.errors
    finally:
        j.context.close()


def test_the_portal_works_without_javascript(browser: Browser, portal: Seeded) -> None:
    j = _journey(browser, portal, "nojs-", java_script_enabled=False)
    page = j.page
    try:
        j.goto("/sign-in")
        page.get_by_label("Username").fill("iain")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(j.base_url + "/")
        assert portal.refs["own_shared"] in page.locator("#shared").inner_text()
        page.goto(j.base_url + "/enquiries/new")
        page.get_by_label("What is it about?").select_option("pothole")
        page.get_by_label("Constituent’s name").fill("Agnes Shared-Own")
        page.get_by_label("Constituent’s postcode (optional)").fill("FK10 1AB")
        page.get_by_label("What do they want the council to do?").fill("Pothole again")
        page.get_by_label("Where is the problem? (optional)").fill("station rd alva")
        page.get_by_label("No").check()
        page.get_by_role("button", name="Log enquiry").click()
        page.wait_for_url("**/logged")
        # Shown on the confirmation instead: the same place and the same person.
        assert portal.refs["own_shared"] in page.locator("main").inner_text()
        page.screenshot(path=ARTIFACTS / "nojs-logged.png", full_page=True)
    finally:
        j.context.close()


def test_responses_since_last_looked(browser: Browser, portal: Seeded) -> None:
    """The dashboard's new responses and the header's count, checked by axe, then marked
    read with the button (a glance does not mark them)."""
    respond(portal, ["other_shared", "other_private"], datetime.now(UTC))
    j = _journey(browser, portal, "responses-", viewport={"width": 1280, "height": 900})
    page = j.page
    try:
        _sign_in(j, "morag")
        page.wait_for_url(j.base_url + "/")
        section = page.locator("#responses")
        assert portal.refs["other_private"] in section.inner_text()
        assert page.get_by_role("link", name="Dashboard 2 new responses").is_visible()
        j.check("dashboard-responses")
        page.reload()
        assert portal.refs["other_shared"] in section.inner_text()
        page.get_by_role("button", name="Mark these responses as read").click()
        page.wait_for_url("**/?read=1")
        assert "Responses marked as read" in page.locator(".govuk-notification-banner")\
            .inner_text()
        assert "No new responses" in section.inner_text()
        assert page.locator("#new-responses-count").count() == 0
        j.check("dashboard-read")
        page.get_by_role("link", name="Statistics").click()
        page.wait_for_url("**/statistics")
        assert "Your enquiries" in page.locator("#compared").inner_text()
        assert page.locator("#by-month-chart").count() + page.locator("#compared").count() >= 1
        j.check("statistics-member")
        assert j.hosts() == {urlsplit(j.base_url).netloc}, j.requests
        assert not j.errors, j.errors
    finally:
        j.context.close()


def test_files_from_the_crm_case_on_the_enquiry_page(browser: Browser, portal: Seeded) -> None:
    """The links to files officers put on the CRM case, checked by axe."""
    url = "https://crm.example.gov.uk/Ticket/Attachment/41/97/after%20repair.jpg"
    with portal.bridge.engine.begin() as conn:
        conn.execute(insert(crm_attachment_links).values(
            enquiry_id=portal.ids["own_shared"], url=url, name="after repair.jpg",
            added_by="roads.officer", added_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
            recorded_at=datetime(2026, 3, 9, 10, 5, tzinfo=UTC), crm_event_id="ev-1"))
    j = _journey(browser, portal, "crm-files-", viewport={"width": 1280, "height": 900})
    try:
        _sign_in(j, "kirsty")
        j.page.wait_for_url(j.base_url + "/")
        j.goto(f"/enquiries/{portal.refs['own_shared']}")
        link = j.page.get_by_role("link", name="after repair.jpg")
        assert link.get_attribute("href") == url
        j.check("enquiry-crm-files")
        assert j.hosts() == {urlsplit(j.base_url).netloc}, j.requests
        assert not j.errors, j.errors
    finally:
        j.context.close()
        with portal.bridge.engine.begin() as conn:
            conn.execute(delete(crm_attachment_links)
                         .where(crm_attachment_links.c.enquiry_id == portal.ids["own_shared"]))
