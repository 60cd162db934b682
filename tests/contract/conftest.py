"""The connector contract: one suite every connector passes, parametrised over backends.

A backend is added with ONE factory: a generator decorated with ``@backend_factory(name)``
that yields a ``Backend`` (a connector on a CRM that really runs, plus a service officer
who works cases in that CRM the way its staff do) and cleans up after the test. A
factory declares the optional features it has (``credentials``: the CRM has a login that
can be wrong; ``attachments``: the connector puts files on cases and the officer
``SeesFiles``; ``cursor_marks``: a read hands back a cursor with no update; ``faults``: the
double can fail the next write); tests marked ``@pytest.mark.needs(feature)`` run only on
backends with it, so the suite generates no test that has to be skipped. Like dlt's
``destinations_configs`` and meltano's test factory, the suite never names a backend.

    @backend_factory("lagan", features={"credentials"})
    def lagan(tmp_path: Path) -> Iterator[Backend]:
        with lagan_double() as server:          # the CRM, for real, over HTTP
            yield Backend(name="lagan", ...)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pytest
import yaml
from pydantic import SecretStr
from support.connector_kit import closed_port
from support.crm_standin import CrmStandin, crm_standin
from support.lagan_double import LaganDouble, lagan_double
from support.lagan_double.server import Personality
from support.odata_double import ODataDouble, odata_double
from support.open311_double import Open311Double, open311_double
from support.rt_server import BRIDGE_USER, RtOfficer, rt_server

from connectors.base import BaseMapping, Connector, ConnectorContext, Note
from connectors.lagan import LaganConnector, LaganSettings
from connectors.lagan_mapping import LaganMapping
from connectors.local import LocalConnector, LocalMapping, LocalSettings
from connectors.local_store import LocalCaseStore
from connectors.open311 import Open311Connector, Open311Settings
from connectors.open311_mapping import Open311Mapping, has_marker
from connectors.rest import RestConnector, RestSettings
from connectors.rest_auth import OAuth2Settings
from connectors.rest_mapping import RestMapping
from connectors.rt import RtConnector, RtSettings
from connectors.rt_mapping import RtMapping
from crm_bridge.models import Enquiry, ServiceDestination

REPO = Path(__file__).resolve().parents[2]


class Officer(Protocol):
    """A service officer working a case inside the CRM itself."""

    def take(self, case_ref: str) -> None:
        """Start work: the CRM status its mapping calls in_progress."""

    def reply(self, case_ref: str, text: str) -> None:
        """Send the service's response to the constituent."""

    def resolve(self, case_ref: str) -> None:
        """Finish: the CRM status its mapping calls responded (or closed)."""

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        """Every case the CRM holds for the enquiry (by its external reference)."""

    def notes(self, case_ref: str) -> list[str]:
        """The text of the notes on the case, oldest first."""


@runtime_checkable
class SeesFiles(Protocol):
    """An officer who can list the files on a case (backends with the ``attachments``
    feature: their connector has ``SendsAttachments``)."""

    def files(self, case_ref: str) -> list[tuple[str, bytes]]:
        """(file name, content) of each file on the case, oldest first."""


@dataclass
class Backend:
    name: str
    connector: Connector
    mapping: BaseMapping
    destination: ServiceDestination
    officer: Officer
    reconnect: Callable[[], Connector]  # another connector on the same CRM: a later sync run
    reject: Callable[[Connector], Any]  # a call this CRM refuses
    reason: str  # words of the CRM's own that its refusal carries
    unreachable: Callable[[], Connector]  # configured for a CRM that is not there
    wrong_credentials: Callable[[], Connector] | None = None
    # Feature "faults": the CRM's next write (opening a case) fails this way: "refused",
    # "500", "429", or "drop" (carried out, then the connection closed with no answer).
    fail_next_write: Callable[[str], None] | None = None


@dataclass(frozen=True)
class _Factory:
    make: Callable[[Path], Any]
    features: frozenset[str]


FACTORIES: dict[str, _Factory] = {}


def backend_factory(name: str, *, features: Iterable[str] = ()
                    ) -> Callable[[Callable[[Path], Iterator[Backend]]],
                                  Callable[[Path], Iterator[Backend]]]:
    def register(make: Callable[[Path], Iterator[Backend]]) -> Callable[[Path], Iterator[Backend]]:
        FACTORIES[name] = _Factory(contextmanager(make), frozenset(features))
        return make
    return register


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(feature): run only on backends with the feature")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    needs = {arg for mark in metafunc.definition.iter_markers("needs") for arg in mark.args}
    names = sorted(name for name, f in FACTORIES.items() if needs <= f.features)
    metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with FACTORIES[request.param].make(tmp_path) as made:
        yield made


def _mapping(model: type[BaseMapping], name: str) -> BaseMapping:
    text = (REPO / "mappings" / f"{name}.yaml").read_text(encoding="utf-8")
    return model.model_validate(yaml.safe_load(text))


# -- local: the embedded case store --------------------------------------------------------


class LocalOfficer:
    def __init__(self, store: LocalCaseStore) -> None:
        self.store = store

    def take(self, case_ref: str) -> None:
        self.store.set_status(case_ref, "open", "officer")

    def reply(self, case_ref: str, text: str) -> None:
        self.store.set_status(case_ref, "open", "officer", response=text)

    def resolve(self, case_ref: str) -> None:
        self.store.set_status(case_ref, "resolved", "officer")

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        case = self.store.find(str(enquiry.id))
        return [case.case_ref] if case else []

    def notes(self, case_ref: str) -> list[str]:
        return [e.body for e in self.store.events_since(0, kinds=("note",))
                if e.case_ref == case_ref]

    def files(self, case_ref: str) -> list[tuple[str, bytes]]:
        return [(f.filename, f.data) for f in self.store.files(case_ref)]


@backend_factory("local", features={"attachments"})
def local(tmp_path: Path) -> Iterator[Backend]:
    mapping = _mapping(LocalMapping, "local")
    with ExitStack() as stack:
        def connect(base: Path = tmp_path) -> Connector:
            made = LocalConnector(LocalSettings(path="local-crm.db"),
                                  ConnectorContext(base, mapping))
            stack.callback(made.close)
            return made

        not_a_folder = tmp_path / "not-a-folder"
        not_a_folder.write_text("a file where the store's folder should be", encoding="utf-8")
        store = LocalCaseStore(tmp_path / "local-crm.db")
        stack.callback(store.close)
        yield Backend(
            name="local", connector=connect(), mapping=mapping,
            destination=ServiceDestination(id="roads", name="Roads", crm_target="Roads",
                                           response_days=10, contact="roads@example.gov.uk"),
            officer=LocalOfficer(store), reconnect=connect,
            reject=lambda c: c.add_note("LOC-999999", Note("follow-up", "cllr-x")),
            reason="no local case LOC-999999",
            unreachable=lambda: connect(not_a_folder),
        )


# -- rt: Request Tracker 5, really running ----------------------------------------------------


class RtContractOfficer:
    def __init__(self, officer: RtOfficer, mapping: RtMapping) -> None:
        self.officer = officer
        self.mapping = mapping

    def take(self, case_ref: str) -> None:
        self.officer.set_status(case_ref, "open")

    def reply(self, case_ref: str, text: str) -> None:
        self.officer.reply(case_ref, text)

    def resolve(self, case_ref: str) -> None:
        self.officer.set_status(case_ref, "resolved")

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        return self.officer.tickets_with(self.mapping.external_id_field, str(enquiry.id))

    def notes(self, case_ref: str) -> list[str]:
        return self.officer.comments(case_ref)

    def files(self, case_ref: str) -> list[tuple[str, bytes]]:
        return self.officer.files(case_ref)


@backend_factory("rt", features={"credentials", "attachments"})
def rt(tmp_path: Path) -> Iterator[Backend]:
    server = rt_server()
    mapping = _mapping(RtMapping, "rt")
    assert isinstance(mapping, RtMapping)
    destination = ServiceDestination(id="roads", name="Roads",
                                     crm_target=f"Contract {uuid.uuid4().hex[:8]}",
                                     response_days=10, contact="roads@example.gov.uk")
    with ExitStack() as stack:
        def connect(url: str = server.url, **login: Any) -> Connector:
            made = RtConnector(RtSettings(url=url, **(login or {"token": server.token})),
                               ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        connector = connect()
        assert isinstance(connector, RtConnector)
        problems = [f for f in connector.setup([destination]) if not f.ok]
        assert not problems, problems
        officer = stack.enter_context(server.officer())
        yield Backend(
            name="rt", connector=connector, mapping=mapping, destination=destination,
            officer=RtContractOfficer(officer, mapping), reconnect=connect,
            reject=lambda c: c.add_note("999999999", Note("follow-up", "cllr-x")),
            reason="Message could not be recorded",
            unreachable=lambda: connect(url=f"http://127.0.0.1:{closed_port()}",
                                        token=server.token),
            wrong_credentials=lambda: connect(username=BRIDGE_USER, password="not-the-password"),
        )


# -- lagan: the FL SOAP service double (tests/support/lagan_double), over real HTTP ----------


class LaganContractOfficer:
    def __init__(self, double: LaganDouble, mapping: LaganMapping) -> None:
        self.double = double
        self.mapping = mapping

    def take(self, case_ref: str) -> None:
        self.double.store.set_status(case_ref, "in progress")

    def reply(self, case_ref: str, text: str) -> None:
        self.double.store.add_officer_note(case_ref, text)

    def resolve(self, case_ref: str) -> None:
        self.double.store.close(case_ref, "Resolved - work completed")

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        return [c.ref for c in self.double.store.cases.values()
                if str(enquiry.id) in c.external_refs]

    def notes(self, case_ref: str) -> list[str]:
        return [n.text for n in self.double.store.cases[case_ref].notes]


def _lagan(tmp_path: Path, personality: Personality) -> Iterator[Backend]:
    shipped = _mapping(LaganMapping, "lagan")
    with ExitStack() as stack:
        double = stack.enter_context(lagan_double(auth="token", personality=personality))
        codes = double.codes  # a site places its own codes in its mapping, as here
        mapping = shipped.model_copy(update={
            "transient_error_codes": [codes.busy], "auth_error_codes": [codes.auth_failed],
            "permanent_error_codes": [codes.not_found, codes.bad_classification]})

        def connect(url: str = double.url, password: str = double.password) -> Connector:
            made = LaganConnector(LaganSettings(url=url, username=double.username,
                                                password=password, timeout_seconds=5),
                                  ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        yield Backend(
            name=f"lagan-{personality}", connector=connect(), mapping=mapping,
            destination=ServiceDestination(id="roads", name="Roads", crm_target="Roads",
                                           response_days=10, contact="roads@example.gov.uk"),
            officer=LaganContractOfficer(double, mapping), reconnect=connect,
            reject=lambda c: c.add_note("999999999", Note("follow-up", "cllr-x")),
            reason="Case 999999999 not found",
            unreachable=lambda: connect(
                url=f"http://127.0.0.1:{closed_port()}/lagan/services/FL"),
            wrong_credentials=lambda: connect(password="not-the-password"),
        )


@backend_factory("lagan-stock", features={"credentials"})
def lagan_stock(tmp_path: Path) -> Iterator[Backend]:
    """The FL double as CONTRACT.md's sources show a stock FL."""
    yield from _lagan(tmp_path, "stock")


@backend_factory("lagan-site", features={"credentials"})
def lagan_site(tmp_path: Path) -> Iterator[Backend]:
    """The FL double differing wherever the contract is silent: binding name, XSD imported
    by URL, no LastModifiedDate, searches capped, the site's own ErrorCodes."""
    yield from _lagan(tmp_path, "site")


# -- rest: the generic REST connector on the CRM stand-in, over real HTTP ---------------------


class RestOfficer:
    def __init__(self, crm: CrmStandin) -> None:
        self.crm = crm

    def take(self, case_ref: str) -> None:
        self.crm.change(case_ref, "open", "officer")

    def reply(self, case_ref: str, text: str) -> None:
        self.crm.change(case_ref, self.crm.cases[case_ref].status, "officer", response=text)

    def resolve(self, case_ref: str) -> None:
        self.crm.change(case_ref, "resolved", "officer")

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        return [c.id for c in self.crm.cases_for(str(enquiry.id))]

    def notes(self, case_ref: str) -> list[str]:
        """Each note as the CRM shows it: its kind (a field of its own here), then its text."""
        return [f"[{n['kind']}] {n.get('text')}" if n.get("kind") else str(n.get("text"))
                for n in self.crm.cases[case_ref].notes]


@backend_factory("rest", features={"credentials", "cursor_marks"})
def rest(tmp_path: Path) -> Iterator[Backend]:
    """The shipped mapping, idempotency key included, on a stand-in that honours it."""
    mapping = _mapping(RestMapping, "rest")
    with ExitStack() as stack:
        crm = stack.enter_context(crm_standin())

        def connect(url: str = crm.url, token: str = crm.token) -> Connector:
            made = RestConnector(RestSettings(url=url, token=SecretStr(token)),
                                 ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        yield Backend(
            name="rest", connector=connect(), mapping=mapping,
            destination=ServiceDestination(id="roads", name="Roads", crm_target="Roads",
                                           response_days=10, contact="roads@example.gov.uk"),
            officer=RestOfficer(crm), reconnect=connect,
            reject=lambda c: c.add_note("C999999", Note("follow-up", "cllr-x")),
            reason="no case C999999",
            unreachable=lambda: connect(url=f"http://127.0.0.1:{closed_port()}"),
            wrong_credentials=lambda: connect(token="not-the-token"),
        )


# -- open311: the GeoReport v2 double (tests/support/open311_double), over real HTTP ----------


class Open311ContractOfficer:
    def __init__(self, double: Open311Double, mapping: Open311Mapping, media: Path) -> None:
        self.double = double
        self.mapping = mapping
        self.media = media

    def take(self, case_ref: str) -> None:
        self.double.state.act(case_ref, "in_progress")

    def reply(self, case_ref: str, text: str) -> None:
        self.double.state.act(case_ref, "in_progress", text)

    def resolve(self, case_ref: str) -> None:
        self.double.state.act(case_ref, "fixed")

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        return [r.id for r in self.double.state.requests.values()
                if has_marker(self.mapping, r.public(), str(enquiry.id))]

    def notes(self, case_ref: str) -> list[str]:
        return [n["description"] for n in self.double.state.requests[case_ref].notes
                if not n.get("media_url")]

    def files(self, case_ref: str) -> list[tuple[str, bytes]]:
        """Each photo update's file, fetched as the back office would by its media_url: here
        the address is mapped back into the folder the council's web server would serve.
        Its name is the one the update's text gives it."""
        found = []
        for posted in self.double.state.requests[case_ref].notes:
            url = posted.get("media_url")
            if not url:
                continue
            assert url.startswith(MEDIA_URL + "/"), url
            named = re.search(r"\(([^)]+)\)", posted["description"].splitlines()[0])
            found.append((named[1] if named else url.rsplit("/", 1)[1],
                          (self.media / url.removeprefix(MEDIA_URL + "/")).read_bytes()))
        return found


MEDIA_URL = "https://www.council.example/crm-photos"


def _open311(tmp_path: Path, fmt: str, **double_options: Any) -> Iterator[Backend]:
    shipped = _mapping(Open311Mapping, "open311")
    # A site maps its services to its server's codes, as here: GR is the recorded service
    # with required attributes, filled from the enquiry.
    mapping = shipped.model_copy(update={"services": {"Roads": Open311Mapping.model_validate(
        {"connector": "open311", "statuses": {}, "services": {"Roads": {
            "code": "GR", "attributes": {"service": "{category}", "usrn": "{location}",
                                         "fixmystreet_id": "{reference}"}}}}
    ).services["Roads"]}})
    media = tmp_path / "media"  # what the council's web server publishes at MEDIA_URL
    media.mkdir()
    with ExitStack() as stack:
        double = stack.enter_context(open311_double(lists_posted_updates=True,
                                                    **double_options))

        def connect(url: str = double.url, api_key: str = double.api_key) -> Connector:
            made = Open311Connector(
                Open311Settings(url=url, api_key=SecretStr(api_key), format=fmt,
                                jurisdiction_id=double.jurisdiction_id, timeout_seconds=5,
                                media_folder=str(media), media_url=MEDIA_URL),
                ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        yield Backend(
            name=f"open311-{fmt}", connector=connect(), mapping=mapping,
            destination=ServiceDestination(id="roads", name="Roads", crm_target="Roads",
                                           response_days=10, contact="roads@example.gov.uk"),
            officer=Open311ContractOfficer(double, mapping, media), reconnect=connect,
            reject=lambda c: c.add_note("999999", Note("follow-up", "cllr-x")),
            reason="Service request 999999 not found",
            unreachable=lambda: connect(url=f"http://127.0.0.1:{closed_port()}/open311/v2"),
            wrong_credentials=lambda: connect(api_key="not-the-key"),
            fail_next_write=lambda kind: double.fail_next("POST requests", kind),
        )
        assert not double.problems, double.problems


@backend_factory("open311-json", features={"credentials", "faults", "attachments"})
def open311_json(tmp_path: Path) -> Iterator[Backend]:
    """GeoReport v2 in JSON, with mySociety's servicerequestupdates, listing the updates
    clients post back (as a Confirm behind open311-adapter publishing update text does);
    photos published in a folder under MEDIA_URL."""
    yield from _open311(tmp_path, "json")


@backend_factory("open311-xml", features={"credentials", "faults", "attachments"})
def open311_xml(tmp_path: Path) -> Iterator[Backend]:
    """GeoReport v2 in XML, answering a create with a token (as open311-adapter's recorded
    Merton backend does) that resolves at the first look-up."""
    yield from _open311(tmp_path, "xml", tokens=True, token_pending=0)


# -- rest-dynamics: the generic REST connector, mappings/rest-dynamics.yaml, on the OData
# double (a Dynamics 365 Web API shape: OAuth2 tokens, OData-EntityId, @odata.nextLink) ----


class DynamicsOfficer:
    def __init__(self, crm: ODataDouble) -> None:
        self.crm = crm

    def take(self, case_ref: str) -> None:
        self.crm.take(case_ref)

    def reply(self, case_ref: str, text: str) -> None:
        self.crm.reply(case_ref, text)

    def resolve(self, case_ref: str) -> None:
        self.crm.resolve(case_ref)

    def cases_for(self, enquiry: Enquiry) -> list[str]:
        return self.crm.cases_for(str(enquiry.id))

    def notes(self, case_ref: str) -> list[str]:
        """Each annotation as Dynamics shows it: its subject (naming the kind), then its text."""
        return [f"{n.get('subject', '')}\n{n['notetext']}"
                for n in self.crm.incidents[case_ref].notes]


@backend_factory("rest-dynamics", features={"credentials", "cursor_marks"})
def rest_dynamics(tmp_path: Path) -> Iterator[Backend]:
    """The shipped Dynamics mapping; the double pages two at a time, below what it is asked."""
    mapping = _mapping(RestMapping, "rest-dynamics")
    with ExitStack() as stack:
        crm = stack.enter_context(odata_double(page_cap=2))

        def connect(url: str = crm.url, secret: str = crm.client_secret) -> Connector:
            oauth2 = OAuth2Settings(token_url=crm.token_url, client_id=crm.client_id,
                                    client_secret=SecretStr(secret), scope=crm.scope)
            made = RestConnector(RestSettings(url=url, oauth2=oauth2),
                                 ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        missing = "00000000-0000-0000-0000-000000000999"
        yield Backend(
            name="rest-dynamics", connector=connect(), mapping=mapping,
            destination=ServiceDestination(id="roads", name="Roads", crm_target="Roads",
                                           response_days=10, contact="roads@example.gov.uk"),
            officer=DynamicsOfficer(crm), reconnect=connect,
            reject=lambda c: c.add_note(missing, Note("follow-up", "cllr-x")),
            reason=f"incident With Id = {missing} Does Not Exist",
            unreachable=lambda: connect(url=f"http://127.0.0.1:{closed_port()}/api/data/v9.2"),
            wrong_credentials=lambda: connect(secret="not-the-secret"),
        )


# -- rest-rt: the generic REST connector, mappings/rest-rt.yaml, on the real RT 5 --------
# (its officer is the rt backend's: the same RT, the same custom field made by its setup)


@backend_factory("rest-rt", features={"credentials", "cursor_marks"})
def rest_rt(tmp_path: Path) -> Iterator[Backend]:
    """The shipped RT mapping on the session's RT; the queue and custom fields are made
    as an admin would, with the rt connector's setup."""
    server = rt_server()
    mapping = _mapping(RestMapping, "rest-rt")
    destination = ServiceDestination(id="roads", name="Roads",
                                     crm_target=f"Contract {uuid.uuid4().hex[:8]}",
                                     response_days=10, contact="roads@example.gov.uk")
    rt_mapping = _mapping(RtMapping, "rt")
    assert isinstance(rt_mapping, RtMapping)
    with ExitStack() as stack:
        admin = RtConnector(RtSettings(url=server.url, token=server.token),
                            ConnectorContext(tmp_path, rt_mapping))
        stack.callback(admin.close)
        problems = [f for f in admin.setup([destination]) if not f.ok]
        assert not problems, problems

        def connect(url: str = server.api, token: str = server.token) -> Connector:
            made = RestConnector(RestSettings(url=url, token=SecretStr(token)),
                                 ConnectorContext(tmp_path, mapping))
            stack.callback(made.close)
            return made

        officer = stack.enter_context(server.officer())
        yield Backend(
            name="rest-rt", connector=connect(), mapping=mapping, destination=destination,
            officer=RtContractOfficer(officer, rt_mapping), reconnect=connect,
            reject=lambda c: c.add_note("999999999", Note("follow-up", "cllr-x")),
            reason="Message could not be recorded",
            unreachable=lambda: connect(url=f"http://127.0.0.1:{closed_port()}/REST/2.0"),
            wrong_credentials=lambda: connect(token="not-the-token"),
        )
