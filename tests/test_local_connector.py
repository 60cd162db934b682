"""The ``local`` connector and its embedded case store, the CRM a council gets by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.constants import NOW

from connectors.base import Connector, Note
from connectors.local import LocalConnector
from connectors.local_store import LocalCaseStore
from crm_bridge.config import LoadedConfig, load_config
from crm_bridge.errors import PermanentError
from crm_bridge.intake import EnquiryDraft, prepare_enquiry
from crm_bridge.models import Enquiry, ServiceDestination
from crm_bridge.registry import open_connector
from crm_bridge.routing import Router


@pytest.fixture
def loaded(council_dir: Path) -> LoadedConfig:
    return load_config(council_dir / "config.yaml")


@pytest.fixture
def connector(loaded: LoadedConfig) -> Iterator[LocalConnector]:
    opened = open_connector(loaded)
    assert isinstance(opened, LocalConnector)
    yield opened
    opened.close()


@pytest.fixture
def enquiry(loaded: LoadedConfig, draft: Callable[..., EnquiryDraft]) -> Callable[..., Enquiry]:
    router = Router(loaded.config)

    def make(number: int = 1, **changes: object) -> Enquiry:
        prepared = prepare_enquiry(draft(**changes), loaded.config, router, NOW)
        return prepared.model_copy(update={"reference": f"ENQ-2026-{number:06d}"})

    return make


def destination(loaded: LoadedConfig, enquiry: Enquiry) -> ServiceDestination:
    found = loaded.config.service(enquiry.service_id)
    assert found is not None
    return found


def desk(connector: LocalConnector) -> LocalCaseStore:
    return connector.desk()


def test_it_is_a_connector_and_keeps_its_cases_beside_the_config(
    connector: LocalConnector, council_dir: Path
) -> None:
    assert isinstance(connector, Connector)
    connector.health()
    assert (council_dir / "local-crm.db").exists()


def test_create_case_is_idempotent_by_the_enquiry_id(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    other = enquiry(2, description="Broken kerb")

    opened = connector.create_case(first, destination(loaded, first))
    again = connector.create_case(first, destination(loaded, first))
    second = connector.create_case(other, destination(loaded, other))

    assert (opened.id, opened.created) == ("LOC-000001", True)
    assert (again.id, again.created) == ("LOC-000001", False)
    assert second.id == "LOC-000002"
    assert [case.external_ref for case in desk(connector).queue()] == [
        str(first.id), str(other.id)]


def test_the_case_carries_what_the_service_needs_and_no_more(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    case = desk(connector).get(connector.create_case(first, destination(loaded, first)).id)

    assert case.queue == "Roads"
    assert case.title == "ENQ-2026-000001: pothole"
    assert case.due == "2026-11-16"
    assert case.status == "new"
    assert "Deep pothole outside the primary school gates" in case.body
    assert "Location: Main Street, Tillicoultry" in case.body
    # mappings/local.yaml shares name, address and postcode; not e-mail or phone.
    assert "Constituent name: Jean Paterson" in case.body
    assert "Constituent postcode: FK13 6AA" in case.body
    assert "jean.paterson@example.com" not in case.body
    assert "01259" not in case.body


def test_add_note_appears_on_the_case(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    case = connector.create_case(first, destination(loaded, first)).id

    connector.add_note(case, Note("Raised again by Cllr Tennant (ENQ-2026-000007)", "sync",
                                  "duplicate_link"))

    notes = list(desk(connector).events_since(0, kinds=("note",)))
    assert [(n.case_ref, n.actor, n.body) for n in notes] == [
        (case, "sync", "Linked enquiry:\n\nRaised again by Cllr Tennant (ENQ-2026-000007)")]
    with pytest.raises(PermanentError, match="no local case LOC-000099"):
        connector.add_note("LOC-000099", Note("lost", "sync"))


def test_get_case_shows_status_and_response(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    case = connector.create_case(first, destination(loaded, first)).id
    assert connector.get_case(case).crm_status == "new"

    desk(connector).set_status(case, "resolved", "roads.officer", response="Filled in.")
    snapshot = connector.get_case(case)

    assert (snapshot.case_ref, snapshot.external_ref) == (case, str(first.id))
    assert (snapshot.crm_status, snapshot.response) == ("resolved", "Filled in.")
    with pytest.raises(PermanentError, match="no local case LOC-000042"):
        connector.get_case("LOC-000042")
    with pytest.raises(PermanentError, match="'RT-42' is not a local case reference"):
        connector.get_case("RT-42")


def test_fetch_updates_returns_only_changes_after_the_cursor(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    case = connector.create_case(first, destination(loaded, first)).id
    assert list(connector.fetch_updates(None)) == []  # opening a case is not a change to pull

    officer = desk(connector)
    officer.set_status(case, "open", "roads.officer", at=NOW + timedelta(hours=1))
    officer.set_status(case, "resolved", "roads.officer", response="Done.",
                       at=NOW + timedelta(hours=2))
    updates = list(connector.fetch_updates(None))

    assert [(u.crm_status, u.response, u.actor) for u in updates] == [
        ("open", None, "roads.officer"), ("resolved", "Done.", "roads.officer")]
    assert all(u.case_ref == case and u.external_ref == str(first.id) for u in updates)
    assert updates[1].occurred_at == NOW + timedelta(hours=2)
    assert len({u.event_id for u in updates}) == 2

    # Resume from the last cursor: nothing new, then only what happened since.
    assert list(connector.fetch_updates(updates[-1].cursor)) == []
    assert [u.crm_status for u in connector.fetch_updates(updates[0].cursor)] == ["resolved"]
    officer.set_status(case, "closed", "roads.officer", at=NOW + timedelta(hours=3))
    newer = list(connector.fetch_updates(updates[-1].cursor))
    assert [(u.crm_status, u.event_id) for u in newer] == [("closed", newer[0].event_id)]
    assert newer[0].event_id not in {u.event_id for u in updates}


def test_statuses_are_checked(
    connector: LocalConnector, loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    case = connector.create_case(first, destination(loaded, first)).id
    officer = desk(connector)

    with pytest.raises(PermanentError) as info:
        officer.set_status(case, "done", "roads.officer")
    assert str(info.value) == "unknown status 'done': use one of new, open, resolved, closed"
    assert connector.get_case(case).crm_status == "new"

    officer.set_status(case, "closed", "roads.officer")
    with pytest.raises(PermanentError, match=f"{case} is closed"):
        officer.set_status(case, "open", "roads.officer")


def test_cases_survive_reopening_the_store(
    loaded: LoadedConfig, enquiry: Callable[..., Enquiry]
) -> None:
    first = enquiry()
    connector = open_connector(loaded)
    try:
        opened = connector.create_case(first, destination(loaded, first))
    finally:
        connector.close()
    reopened = open_connector(loaded)
    try:
        assert reopened.create_case(first, destination(loaded, first)).created is False
        assert reopened.get_case(opened.id).external_ref == str(first.id)
    finally:
        reopened.close()
