"""The open311 connector's create against the GeoReport v2 double, which checks every call
against swagger.json and every answer against the JSON Schemas: what is sent (location,
attributes, marker, and only the contact details the council allows), the look-up before
a repeat create and its skipping when the outbox shows no earlier try."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.connector_kit import make_enquiry
from support.open311_double import Open311Double, open311_double
from support.open311_kit import GRAFFITI, POTHOLES, connect, site_mapping

from connectors.base import Note
from crm_bridge.errors import PermanentError, TransientError
from crm_bridge.models import Constituent


@pytest.fixture(params=["json", "xml"])
def double(request: pytest.FixtureRequest) -> Iterator[tuple[Open311Double, str]]:
    with open311_double() as made:
        yield made, request.param
        assert not made.problems, made.problems


def _posted(double: Open311Double) -> list[dict[str, str]]:
    return [dict(params) for route, params in double.seen if route == "POST requests"]


def test_a_request_carries_service_location_description_and_marker(
        double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    crm = connect(server, format=fmt)
    enquiry = make_enquiry(POTHOLES)
    case = crm.create_case(enquiry, POTHOLES)

    sent = _posted(server)[-1]
    assert sent["service_code"] == "POT"
    assert sent["address_string"] == "Main Street, Tillicoultry"
    assert sent["jurisdiction_id"] == "council" and sent["api_key"] == server.api_key
    assert sent["description"].startswith("Deep pothole outside the primary school gates")
    assert sent["description"].endswith(f"[crm-bridge {enquiry.id}]")
    assert server.state.requests[case.id].service_code == "POT"
    assert crm.get_case(case.id).external_ref == str(enquiry.id)


def test_coordinates_go_as_lat_long(double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    connect(server, format=fmt).create_case(
        make_enquiry(POTHOLES, location="56.1512, -3.7553"), POTHOLES)
    sent = _posted(server)[-1]
    assert (sent["lat"], sent["long"]) == ("56.1512", "-3.7553")
    assert "address_string" not in sent


def test_the_definitions_required_attributes_are_sent(double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    enquiry = make_enquiry(GRAFFITI)
    connect(server, format=fmt).create_case(enquiry, GRAFFITI)
    sent = _posted(server)[-1]
    assert sent["attribute[fixmystreet_id]"] == enquiry.reference
    assert sent["attribute[usrn]"] == "Main Street, Tillicoultry"


def test_a_missing_required_attribute_is_refused_in_the_servers_words(
        double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    mapping = site_mapping(services={"Land Services": "GR"})
    with pytest.raises(PermanentError) as refused:
        connect(server, mapping, format=fmt).create_case(make_enquiry(GRAFFITI), GRAFFITI)
    assert "attribute service is required for service GR" in str(refused.value)
    assert "HTTP 400" in str(refused.value)
    assert server.state.requests == {}


def test_no_contact_detail_leaves_by_default(double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    enquiry = make_enquiry(POTHOLES, constituent=Constituent(
        name="Jean Paterson", address="12 Main Street", postcode="FK13 6AA",
        email="jean.paterson@example.com", phone="01259 123456", uprn="135051234"))
    connect(server, format=fmt).create_case(enquiry, POTHOLES)

    sent = _posted(server)[-1]
    assert not {"email", "first_name", "last_name", "phone", "address_id"} & set(sent)
    everything = " ".join(value for _, params in server.seen for _, value in params)
    for detail in ("Jean", "Paterson", "jean.paterson@example.com", "01259 123456",
                   "135051234", "12 Main Street", "FK13 6AA"):
        assert detail not in everything


def test_only_the_contact_fields_allowed_leave(double: tuple[Open311Double, str]) -> None:
    server, fmt = double
    enquiry = make_enquiry(POTHOLES, constituent=Constituent(
        name="Jean Paterson", email="jean.paterson@example.com", phone="01259 123456",
        uprn="135051234"))
    connect(server, format=fmt, contact_fields=["email", "last_name", "address_id"]
            ).create_case(enquiry, POTHOLES)
    sent = _posted(server)[-1]
    assert sent["email"] == "jean.paterson@example.com"
    assert sent["last_name"] == "Paterson"
    assert sent["address_id"] == "135051234"
    assert "first_name" not in sent and "phone" not in sent


def test_an_enquiry_with_no_location_is_refused_before_sending() -> None:
    with open311_double() as server:
        with pytest.raises(PermanentError, match="no location"):
            connect(server).create_case(make_enquiry(POTHOLES, location=None), POTHOLES)
        assert server.calls["POST requests"] == 0
        connect(server, site_mapping(fallback_address="Kilncraigs, Alloa")).create_case(
            make_enquiry(POTHOLES, location=None), POTHOLES)
        assert _posted(server)[-1]["address_string"] == "Kilncraigs, Alloa"


def test_an_unmapped_service_is_refused_naming_the_fix() -> None:
    with open311_double() as server:
        other = POTHOLES.model_copy(update={"id": "parks", "crm_target": "Parks"})
        with pytest.raises(PermanentError, match="no service for 'Parks'"):
            connect(server).create_case(make_enquiry(other), other)
        assert server.calls["POST requests"] == 0


def test_a_repeat_create_finds_the_request_and_a_fresh_one_skips_the_look_up() -> None:
    with open311_double() as server:
        crm = connect(server)
        enquiry = make_enquiry(POTHOLES)
        first = crm.create_case(enquiry, POTHOLES, fresh=True)
        assert server.calls["GET requests"] == 0

        again = connect(server).create_case(enquiry, POTHOLES)
        assert (again.id, again.created) == (first.id, False)
        assert server.calls["POST requests"] == 1
        assert server.calls["GET requests"] == 1


def test_notes_go_as_updates_with_their_key() -> None:
    with open311_double() as server:
        crm = connect(server)
        case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
        crm.add_note(case.id, Note("A child tripped here.", "cllr-x", key="note-7"))
        [note] = server.state.requests[case.id].notes
        assert note["update_id"] == "note-7"
        assert "A child tripped here." in note["description"]
        assert note["description"].endswith("[crm-bridge note]")


def test_a_fresh_try_whose_answer_is_lost_is_found_by_the_next_try() -> None:
    """fresh=True skips the look-up only on the first try; the retry (not fresh) finds the
    request the server made before the answer was lost."""
    with open311_double() as server:
        enquiry = make_enquiry(POTHOLES)
        server.fail_next("POST requests", "drop")
        with pytest.raises(TransientError):
            connect(server).create_case(enquiry, POTHOLES, fresh=True)
        again = connect(server).create_case(enquiry, POTHOLES)
        assert not again.created
        assert list(server.state.requests) == [again.id]
