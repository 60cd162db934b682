"""The FL double is as strict as the contract says a real server is."""

from __future__ import annotations

import requests
from support.lagan_double import lagan_double

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
FLT = "http://www.lagan.com/wsdl/FLTypes"


def _post(url: str, body: str) -> requests.Response:
    envelope = (f'<e:Envelope xmlns:e="{SOAP}" xmlns:flt="{FLT}"><e:Body>{body}</e:Body>'
                "</e:Envelope>")
    return requests.post(url, data=envelope.encode(), timeout=5,
                         headers={"Content-Type": "text/xml"})


def test_an_unqualified_case_reference_is_a_fault() -> None:
    with lagan_double(auth="basic") as double:
        url = double.url.replace("http://", f"http://{double.username}:{double.password}@")
        bad = _post(url, "<flt:FWTCaseFullDetailsRequest><CaseReference>1</CaseReference>"
                         "<Option>all</Option></flt:FWTCaseFullDetailsRequest>")
        assert bad.status_code == 500 and b"Schema validation" in bad.content
        good = _post(url, "<flt:FWTCaseFullDetailsRequest><flt:CaseReference>1"
                          "</flt:CaseReference><Option>all</Option>"
                          "</flt:FWTCaseFullDetailsRequest>")
        assert b"Case 1 not found" in good.content


def test_wrong_order_and_missing_required_elements_are_faults() -> None:
    with lagan_double(auth="basic") as double:
        url = double.url.replace("http://", f"http://{double.username}:{double.password}@")
        order = _post(url, "<flt:FWTCaseCreate><Title>t</Title>"
                           "<ClassificationEventCode>1</ClassificationEventCode>"
                           "</flt:FWTCaseCreate>")
        missing = _post(url, "<flt:FWTCaseCreate><Title>t</Title></flt:FWTCaseCreate>")
        assert b"Schema validation" in order.content
        assert b"Schema validation" in missing.content
        assert not double.store.cases


def test_the_site_personality_differs_where_the_contract_is_silent() -> None:
    with lagan_double(personality="site", auth="basic") as double:
        auth = (double.username, double.password)
        wsdl = requests.get(double.url + "?wsdl", auth=auth, timeout=5).text
        assert 'binding name="FLWebBinding"' in wsdl and "FLSoapBinding" not in wsdl
        assert f'schemaLocation="{double.url}?xsd=FLTypes.xsd"' in wsdl
        xsd = requests.get(double.url + "?xsd=FLTypes.xsd", auth=auth, timeout=5)
        assert b'name="FWTCaseSearch"' in xsd.content
        for n in range(600):
            double.store.add_case(f"case {n}", raised_by=double.username)
        url = double.url.replace("http://", f"http://{double.username}:{double.password}@")
        found = _post(url, "<flt:FWTSearchAndRetrieveCase><flt:FWTCaseSearch><ResultsLimit>"
                           "1000</ResultsLimit></flt:FWTCaseSearch><Option>all</Option>"
                           "</flt:FWTSearchAndRetrieveCase>")
        assert found.content.count(b"<CoreDetails>") == 500
        assert b"LastModifiedDate" not in found.content
