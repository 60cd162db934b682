"""The Open311 double is as strict as the published contract: a call that breaks
swagger.json's parameters is refused with GeoReport's error list, so a connector that
passes against it sends what the contract asks; its recorded answers are served as
recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from support.open311_double import Open311Double, open311_double

from connectors.open311_xml import parse_xml


@pytest.fixture
def double() -> Iterator[Open311Double]:
    with open311_double() as made:
        yield made
        assert not made.problems, made.problems


def _post(double: Open311Double, **form: str) -> requests.Response:
    base = {"jurisdiction_id": double.jurisdiction_id, "api_key": double.api_key,
            "service_code": "POT", "address_string": "Main Street"}
    return requests.post(f"{double.url}/requests.json",
                         data={k: v for k, v in {**base, **form}.items() if v}, timeout=5)


@pytest.mark.parametrize(("form", "words"), [
    ({"jurisdiction_id": ""}, "jurisdiction_id is required"),
    ({"service_code": ""}, "service_code is required"),
    ({"lat": "north", "long": "-3.7"}, "lat must be a number, not 'north'"),
    ({"colour": "red"}, "colour is not a parameter of this call"),
    ({"address_string": ""},
     "a location is required: lat and long, address_string or address_id"),
    ({"service_code": "XX"}, "Service code XX not found"),
    ({"service_code": "GR"}, "attribute service is required for service GR"),
    ({"description": "x" * 4001}, "description is longer than 4000 characters"),
])
def test_a_create_that_breaks_the_contract_is_refused(double: Open311Double,
                                                      form: dict[str, str], words: str) -> None:
    answer = _post(double, **form)
    assert answer.status_code == 400
    assert answer.json() == [{"code": 400, "description": words}]
    assert double.state.requests == {}


def test_a_wrong_api_key_is_refused(double: Open311Double) -> None:
    answer = _post(double, api_key="nope")
    assert answer.status_code == 403 and answer.json()[0]["description"] == "Invalid api_key"


def test_an_attribute_the_definition_lacks_is_refused(double: Open311Double) -> None:
    answer = _post(double, service_code="GR", **{
        "attribute[service]": "x", "attribute[usrn]": "1", "attribute[fixmystreet_id]": "2",
        "attribute[colour]": "red"})
    assert answer.json() == [{"code": 400,
                              "description": "attribute colour is not defined for service GR"}]


def test_the_recorded_answers_are_served(double: Open311Double) -> None:
    listed = requests.get(f"{double.url}/services.xml",
                          params={"jurisdiction_id": double.jurisdiction_id}, timeout=5)
    assert parse_xml(listed.content)[0] == {
        "service_code": "GR", "service_name": "Graffiti", "metadata": "true", "type": "batch",
        "group": "Street Cleaning Problems or Weeds"}
    definition = requests.get(f"{double.url}/services/GR.json",
                              params={"jurisdiction_id": double.jurisdiction_id}, timeout=5)
    assert [a["code"] for a in definition.json()["attributes"]] == [
        "service", "usrn", "fixmystreet_id", "easting", "northing", "closest_address"]


def test_a_path_the_server_does_not_have_is_a_plain_404() -> None:
    with open311_double(updates_extension=False) as server:
        answer = requests.get(f"{server.url}/servicerequestupdates.json", timeout=5)
    assert answer.status_code == 404 and "html" in answer.headers["Content-Type"]
