"""Lagan push: enquiries through the lagan connector to the FL double, beside a bare loop.

    python -m bench.lagan_push [--enquiries 1000] [--json]

Starts the FL service double (tests/support/lagan_double: real HTTP, every envelope
validated against the XSD, token auth), then times, per enquiry, the same FL calls:

  bridge   ``LaganConnector.create_case``: the idempotency search (RaisedByUser, a
           CreatedAfter window, the title marker), searchForParty (createIndividual the
           first time), createInteraction, createCase, addCaseExternalReference, through
           one zeep client (WSDL read and parsed once, outside the timing);
  raw      the same envelopes built by hand (f-strings) and posted from a bare
           ``requests.Session`` loop, ids picked out of the replies with lxml; the loop
           checks its search found no case (as the bridge does) and each reply's id.

The work runs in ``--rounds`` rounds, each in ABBA order (bridge, raw, raw, bridge) on
fresh enquiries, so the double's store growing, and a shared machine's load coming and
going, fall on both alike. Before printing, the work is verified: every enquiry of either side has
exactly one case in the double, carrying its id as the external reference. Prints both
times and the ratio (goal: bridge within 1.05× of raw).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import requests
import yaml
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.connector_kit import make_enquiry  # noqa: E402
from support.lagan_double import LaganDouble, lagan_double  # noqa: E402

from bench.finish import finish  # noqa: E402
from connectors.base import ConnectorContext  # noqa: E402
from connectors.lagan import LaganConnector, LaganSettings  # noqa: E402
from connectors.lagan_mapping import LaganMapping, case_request  # noqa: E402
from connectors.lagan_wire import SOAP, WSSE  # noqa: E402
from crm_bridge.models import Enquiry, ServiceDestination  # noqa: E402

FLT = "http://www.lagan.com/wsdl/FLTypes"
ROADS = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                           contact="roads@example.gov.uk")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _mapping() -> LaganMapping:
    text = (REPO / "mappings" / "lagan.yaml").read_text(encoding="utf-8")
    return LaganMapping.model_validate(yaml.safe_load(text))


class RawLoop:
    """The floor: hand-built envelopes, one Session, the same token header."""

    def __init__(self, double: LaganDouble, mapping: LaganMapping) -> None:
        self.url = double.url
        self.user = double.username
        self.mapping = mapping
        self.session = requests.Session()
        self.session.headers.update({"Content-Type": "text/xml; charset=utf-8",
                                     "SOAPAction": '"http://www.lagan.com/wsdl/FLService"'})
        login = (f'<e:Envelope xmlns:e="{SOAP}"><e:Header><w:Security xmlns:w="{WSSE}">'
                 f"<w:UsernameToken><w:Username>{double.username}</w:Username><w:Password>"
                 f"{double.password}</w:Password></w:UsernameToken></w:Security></e:Header>"
                 "<e:Body/></e:Envelope>")
        reply = self.session.post(double.url.replace("/FL", "/FLAuth"), data=login, timeout=30)
        token = etree.fromstring(reply.content, _PARSER).findtext(f".//{{{WSSE}}}"
                                                                  "BinarySecurityToken")
        self.header = (f'<e:Header><w:Security xmlns:w="{WSSE}"><w:BinarySecurityToken>{token}'
                       "</w:BinarySecurityToken></w:Security></e:Header>")

    def post(self, body: str) -> etree._Element:
        envelope = (f'<e:Envelope xmlns:e="{SOAP}" xmlns:flt="{FLT}">{self.header}<e:Body>'
                    f"{body}</e:Body></e:Envelope>")
        reply = self.session.post(self.url, data=envelope.encode(), timeout=30)
        reply.raise_for_status()
        return etree.fromstring(reply.content, _PARSER)

    def push(self, enquiry: Enquiry) -> str:
        m = self.mapping
        since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        found = self.post(f"<flt:FWTSearchAndRetrieveCase><flt:FWTCaseSearch>"
                          f"<Title>{escape(m.marker(str(enquiry.id)))}</Title><RaisedByUser>"
                          f"<UserID>{self.user}</UserID></RaisedByUser><CreatedAfter>{since}"
                          "</CreatedAfter><ResultsLimit>100</ResultsLimit></flt:FWTCaseSearch>"
                          "<Option>all</Option></flt:FWTSearchAndRetrieveCase>")
        listed = found.find(f".//{{{FLT}}}FWTCaseFullDetailsList")
        if listed is None or len(listed):
            raise RuntimeError("the raw loop's search did not answer an empty case list")
        found = self.post(f"<flt:FWTPartySearch><SearchType>individual</SearchType>"
                          f"<EmailAddress>{enquiry.constituent.email}</EmailAddress>"
                          "</flt:FWTPartySearch>")
        party = found.findtext(f".//{{{FLT}}}ObjectReference") or "0"
        interaction = self.post(
            f"<flt:FWTInteractionCreate><flt:Channel>Web</flt:Channel><Verified>false</Verified>"
            f"<PartyID><flt:ObjectType>C1</flt:ObjectType><flt:ObjectReference>{party}"
            "</flt:ObjectReference></PartyID></flt:FWTInteractionCreate>"
        ).findtext(f".//{{{FLT}}}InteractionID")
        fields = case_request(m, enquiry, ROADS, m.classifications["Roads"], 0)
        ref = self.post(
            f"<flt:FWTCaseCreate><ClassificationEventCode>{fields['ClassificationEventCode']}"
            f"</ClassificationEventCode><Title>{escape(fields['Title'])}</Title><Description>"
            f"{escape(fields['Description'])}</Description><Queue>{escape(fields['Queue'])}"
            f"</Queue><DueDate>{fields['DueDate'].isoformat()}</DueDate><flt:InteractionID>"
            f"{interaction}</flt:InteractionID></flt:FWTCaseCreate>"
        ).findtext(f".//{{{FLT}}}CaseReference") or ""
        if not ref.isdigit() or not interaction:
            raise RuntimeError("the raw loop got no case reference or interaction id")
        self.post(f"<flt:FWTCaseExternalReferenceRequest><CaseID>{ref}</CaseID>"
                  f"<ExternalReference>{enquiry.id}</ExternalReference>"
                  "</flt:FWTCaseExternalReferenceRequest>")
        return ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enquiries", type=int, default=1000, help="per side")
    parser.add_argument("--rounds", type=int, default=10, help="ABBA rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    mapping = _mapping()
    quarter = max(1, args.enquiries // (2 * args.rounds))  # per side: two per round
    with lagan_double(auth="token") as double, tempfile.TemporaryDirectory() as tmp:
        connector = LaganConnector(
            LaganSettings(url=double.url, username=double.username, password=double.password),
            ConnectorContext(Path(tmp), mapping))
        connector.health()  # WSDL read and parsed, token fetched: once, not timed
        raw = RawLoop(double, mapping)
        make_enquiry(ROADS)
        times = {"bridge": 0.0, "raw": 0.0}
        sent: list[Enquiry] = []
        for which in ("bridge", "raw", "raw", "bridge") * args.rounds:
            enquiries = [make_enquiry(ROADS, id=uuid.uuid4()) for _ in range(quarter)]
            sent += enquiries
            started = time.perf_counter()
            for enquiry in enquiries:
                if which == "bridge":
                    connector.create_case(enquiry, ROADS)
                else:
                    raw.push(enquiry)
            times[which] += time.perf_counter() - started
        connector.close()
        raw.session.close()
        count = len(double.store.cases)
        calls = dict(double.calls)
        problems = _verify(double, sent)
    n = 2 * quarter * args.rounds
    result = {"enquiries_each": n, "cases_in_double": count, "fl_calls": calls,
              "bridge_seconds": round(times["bridge"], 3), "raw_seconds": round(times["raw"], 3),
              "bridge_per_enquiry_ms": round(1000 * times["bridge"] / n, 2),
              "raw_per_enquiry_ms": round(1000 * times["raw"] / n, 2),
              "ratio": round(times["bridge"] / times["raw"], 3)}
    return finish(result, problems, args.json, width=24, most=10)


def _verify(double: LaganDouble, sent: list[Enquiry]) -> list[str]:
    """Each enquiry has exactly one case, with its id as the external reference."""
    by_ref: dict[str, int] = {}
    for case in double.store.cases.values():
        for ext in case.external_refs:
            by_ref[ext] = by_ref.get(ext, 0) + 1
    return [f"enquiry {e.id} has {by_ref.get(str(e.id), 0)} cases" for e in sent
            if by_ref.get(str(e.id), 0) != 1]


if __name__ == "__main__":
    raise SystemExit(main())
