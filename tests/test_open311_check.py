"""`connector check` for Open311: a finding an admin can act on for each service that is
unmapped, mapped to a code the server does not offer, or missing a required attribute;
and the mapping's own mistakes refused with the field named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from support.open311_double import open311_double
from support.open311_kit import GRAFFITI, POTHOLES, connect, site_mapping

from connectors.base import Finding, SupportsSetup
from crm_bridge.models import ServiceDestination

PARKS = ServiceDestination(id="parks", name="Parks", crm_target="Parks", response_days=10,
                           contact="parks@example.gov.uk")
LIGHTS = ServiceDestination(id="lights", name="Street lighting", crm_target="Lights",
                            response_days=10, contact="lights@example.gov.uk")


def _by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_ready_mapping_is_all_ok(fmt: str) -> None:
    with open311_double() as server:
        crm = connect(server, format=fmt)
        assert isinstance(crm, SupportsSetup)
        findings = crm.check([POTHOLES, GRAFFITI])
        assert all(f.ok for f in findings), findings
        text = " ".join(f.detail for f in findings)
        assert "offers 2 service(s)" in text
        assert "service code 'GR' (Graffiti); every required attribute is filled" in text
        assert "servicerequestupdates" in text


def test_each_problem_is_a_finding_naming_the_fix() -> None:
    mapping = site_mapping(services={"Roads": "POT", "Land Services": "GR", "Lights": "SL"},
                           attributes={"colour": "{category}"})
    with open311_double() as server:
        findings = connect(server, mapping, api_key=None).check(
            [POTHOLES, GRAFFITI, PARKS, LIGHTS])
    problems = {f.subject: f.detail for f in findings if not f.ok}

    assert "mapped to no Open311 service code" in problems["service 'parks' (crm_target 'Parks')"]
    assert "add 'Parks: CODE' under services" in problems["service 'parks' (crm_target 'Parks')"]
    assert ("'SL', which the server does not offer; it offers GR, POT"
            in problems["service 'lights' (crm_target 'Lights')"])
    graffiti = [f.detail for f in findings
                if f.subject == "service 'land' (crm_target 'Land Services')" and not f.ok]
    assert any("requires attribute(s) fixmystreet_id, service, usrn, which the mapping "
               "leaves empty" in d for d in graffiti)
    assert any("sends attribute(s) colour, which service code 'GR' does not define" in d
               for d in graffiti)
    assert "not set" in problems["connector.api_key"]


def test_without_the_extension_check_says_notes_cannot_be_sent() -> None:
    with open311_double(updates_extension=False) as server:
        findings = _by_subject(connect(server).check([POTHOLES]))
    assert "notes (follow-ups) cannot be sent" in findings["updates"].detail


def test_an_unreachable_server_is_one_finding() -> None:
    with open311_double() as server:
        crm = connect(server, url=server.url.replace("/open311/v2", "/nothing"))
        [finding] = crm.check([POTHOLES])
    assert not finding.ok and "check connector.url" in finding.detail


@pytest.mark.parametrize(("change", "words"), [
    ({"marker": {"description": "[bridge]", "attribute": None}}, "must hold {id}"),
    ({"marker": {"description": None, "attribute": None}}, "give description"),
    ({"description": "{description} for {constituent_email}"}, "{constituent_email}"),
    ({"attributes": {"usrn": "{postcode}"}}, "{postcode}"),
])
def test_a_bad_mapping_is_refused_naming_the_field(change: dict[str, object],
                                                  words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        site_mapping(**change)
    assert words in str(refused.value)
