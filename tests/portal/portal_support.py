"""Helpers for the portal tests (imported as portal.portal_support: pytest puts tests/ on sys.path).

The portal under test: a council folder with a seeded store, users of every role, and the
real app served by uvicorn in a thread on a free loopback port (one per test session).

Seeded enquiries, one per case the authorisation rules distinguish:

    key              member (user)                   ward            consent
    own_shared       Kirsty Dalgleish (kirsty)       north           yes
    own_private      Kirsty Dalgleish (kirsty)       north           no
    colleague_shared Iain Tennant (iain)             north           yes
    colleague_priv   Iain Tennant (iain)             north           no
    other_shared     Morag Kinnaird (morag)          west            yes
    other_private    Morag Kinnaird (morag)          west            no
    mp_shared        Angus Tulloch MP (angus)        north           yes
    mp_private       Angus Tulloch MP (angus)        north           no
    msp_shared       Eilidh Brodie MSP (eilidh)      west            yes
    msp_private      Eilidh Brodie MSP (eilidh)      west            no
    mep_shared       Morven Gray MEP (morven)        west            yes

Morven Gray MEP is added to the example's members here, so every kind of member is covered.

The council's access (``ACCESS``): staff group members-services (user staff) works for
every councillor, mp-office (user mpoffice) for the MP only; the MSP shares with Kirsty
Dalgleish by arrangement. The MP shares with no one, so the consented MP enquiry filed in
Kirsty's ward is still the MP's alone.
"""

from __future__ import annotations

import re
import shutil
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from crm_bridge.app import Bridge
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.portal.accounts import UserRole, create_user
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]
SECRET = b"test-secret-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"

USERS: dict[str, tuple[UserRole, str | None]] = {
    "kirsty": (UserRole.MEMBER, "cllr-kirsty-dalgleish"),
    "iain": (UserRole.MEMBER, "cllr-iain-tennant"),
    "morag": (UserRole.MEMBER, "cllr-morag-kinnaird"),
    "angus": (UserRole.MEMBER, "mp-angus-tulloch"),
    "eilidh": (UserRole.MEMBER, "msp-eilidh-brodie"),
    "morven": (UserRole.MEMBER, "mep-morven-gray"),
    "staff": (UserRole.STAFF, None),
    "mpoffice": (UserRole.STAFF, None),
    "admin": (UserRole.ADMIN, None),
}

STAFF_GROUPS = {"staff": "members-services", "mpoffice": "mp-office"}

ACCESS: dict[str, Any] = {
    "staff_groups": [
        {"id": "members-services", "name": "Members' services"},
        {"id": "mp-office", "name": "Angus Tulloch MP's office", "councillors": False,
         "members": ["mp-angus-tulloch"]},
    ],
    "sharing": [{"member": "msp-eilidh-brodie", "shared_with": ["cllr-kirsty-dalgleish"]}],
}

# key: (member, consent, constituent name, category, location)
SEEDS: dict[str, tuple[str, bool, str, str, str]] = {
    "own_shared": ("cllr-kirsty-dalgleish", True, "Agnes Shared-Own", "pothole",
                   "Station Road, Alva"),
    "own_private": ("cllr-kirsty-dalgleish", False, "Brian Private-Own", "noise",
                    "Park Street, Alva"),
    "colleague_shared": ("cllr-iain-tennant", True, "Catriona Shared-Colleague",
                         "street-lighting", "Mill Lane, Menstrie"),
    "colleague_private": ("cllr-iain-tennant", False, "Duncan Private-Colleague",
                          "missed-bin", "Ochil Street, Tillicoultry"),
    "other_shared": ("cllr-morag-kinnaird", True, "Eilidh Shared-Other", "pothole",
                     "Bridge Street, Alloa"),
    "other_private": ("cllr-morag-kinnaird", False, "Fergus Private-Other", "fly-tipping",
                      "Forth Crescent, Alloa"),
    "mp_shared": ("mp-angus-tulloch", True, "Greta Shared-MP", "council-tax", ""),
    "mp_private": ("mp-angus-tulloch", False, "Hector Private-MP", "pothole",
                   "Stirling Street, Tillicoultry"),
    "msp_shared": ("msp-eilidh-brodie", True, "Isla Shared-MSP", "noise", "Ward Street, Alloa"),
    "msp_private": ("msp-eilidh-brodie", False, "Jamie Private-MSP", "parks", ""),
    "mep_shared": ("mep-morven-gray", True, "Kenna Shared-MEP", "fly-tipping",
                   "Shore Road, Alloa"),
}
# The ward an MP's or MSP's enquiry is filed under (councillors': their own).
SEED_WARDS = {"mp_shared": "clacks-north", "mp_private": "clacks-north",
              "msp_shared": "clacks-west", "msp_private": "clacks-west",
              "mep_shared": "clacks-west"}
MEP = ("  - id: mep-morven-gray\n    name: Morven Gray MEP\n    role: mep\n"
       "    email: morven.gray@example.eu\n")


@dataclass
class Seeded:
    base_url: str
    bridge: Bridge
    refs: dict[str, str]  # seed key -> reference
    ids: dict[str, str]  # seed key -> enquiry id


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def council(root: Path) -> Path:
    config = root / "config.yaml"
    text = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    # The example's access: block (up to the next section) replaced by the tests' own.
    start, end = text.index("\naccess:\n") + 1, text.index("# --- Elected members")
    access = yaml.safe_dump({"access": ACCESS}, sort_keys=False)
    text = text[:start] + access + "\n" + text[end:]
    last_member = "    email: eilidh.brodie.msp@parliament.example\n    notify: daily\n"
    assert text.count(last_member) == 1, "the example's members have changed"
    config.write_text(text.replace(last_member, last_member + MEP), encoding="utf-8")
    shutil.copytree(REPO / "mappings", root / "mappings")
    engine = make_engine(f"sqlite:///{root / 'crm-bridge.db'}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return config


def seed(bridge: Bridge) -> tuple[dict[str, str], dict[str, str]]:
    now = datetime.now(UTC)
    with bridge.engine.begin() as conn:
        for username, (role, member) in USERS.items():
            create_user(conn, bridge.config, username, role, None, member, PASSWORD, now,
                        staff_group=STAFF_GROUPS.get(username))
        # Only for the throttling test, so locking it out never affects another test.
        create_user(conn, bridge.config, "throttled", UserRole.MEMBER, None,
                    "cllr-euan-lochhead", PASSWORD, now)
    refs, ids = {}, {}
    for number, (key, (member, consent, name, category, location)) in enumerate(SEEDS.items()):
        draft = draft_from({
            "member_id": member, "category_id": category, "consent_to_share": consent,
            "description": f"Seeded enquiry {key}: please look into it",
            "location": location or None, "channel": "surgery", "logged_by": "seed",
            "ward_id": SEED_WARDS.get(key),
            "constituent": {"name": name, "postcode": f"FK{10 + number // 9} {number % 9 + 1}AB",
                            "email": f"{key}@example.com"},
        })
        logged = log_enquiry(bridge.engine, bridge.config, bridge.router, draft,
                             now - timedelta(days=3, minutes=number))
        refs[key], ids[key] = logged.reference, str(logged.id)
    return refs, ids


CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


class Client(requests.Session):
    """A requests session against the live portal, signed in as one user."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.csrf = ""

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        # Session.get sets allow_redirects=True itself: the tests want to see each redirect.
        kwargs["allow_redirects"] = kwargs.pop("follow", False)
        kwargs.setdefault("timeout", 30)
        target = url.decode() if isinstance(url, bytes) else url
        return super().request(method, self.base_url + target, *args, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD) -> requests.Response:
        page = self.get("/sign-in")
        response = self.post("/sign-in", data={"csrf_token": csrf_of(page.text),
                                               "username": username, "password": password})
        if response.status_code == 303:
            self.csrf = csrf_of(self.get("/search").text)
        return response


def respond(portal: Seeded, keys: list[str], arrived: datetime) -> None:
    """Give seeded enquiries a CRM response that reached the bridge at ``arrived`` (the
    columns sync's pull sets; the status is left as it is, so the dashboard's lists keep
    them)."""
    from crm_bridge.store.enquiries import set_fields

    with portal.bridge.engine.begin() as conn:
        for key in keys:
            set_fields(conn, portal.ids[key], arrived, response=f"Answer to {key}",
                       responded_at=arrived - timedelta(hours=2), response_arrived_at=arrived)
