"""Open311 push: enquiries through the bridge's sync to the GeoReport v2 double, beside a
bare requests loop doing the same POSTs and the same store writes.

    python -m bench.open311_push [--enquiries 300] [--format json|xml] [--json]

Starts the Open311 double (tests/support/open311_double: real HTTP on loopback, every call
checked against swagger.json, every answer against the JSON Schemas), makes a council
folder switched to ``type: open311`` (SQLite store), and in rounds of ``ROUND`` fresh
enquiries, ABBA (bridge, raw, raw, bridge), times:

  bridge   ``run_sync(only=push)``: claims read from the outbox, enquiries read and
           validated, per enquiry the connector's look-up of the request an earlier try
           may have opened (GET requests for the service), POST requests, and the batched
           store writes (the enquiry's CRM reference and status, its history row, the
           outbox row done);
  raw      the floor: the same pending rows read, the same form (the mapping's
           ``request_form``) POSTed from a bare ``requests.Session``, the id picked out
           of the answer, and the same writes in one transaction per ``BATCH``; no look-up.

Then, as a second figure, ``create_case(fresh=True)`` from the connector (no look-up:
what push does once it passes ``fresh``) beside the bare POST loop, without the store.

Before printing, the work is verified: every enquiry of either half has exactly one
request in the double (found by its marker), and every stored enquiry its reference.
Prints each time, the ratios, and how many look-ups the bridge made (goal: ≤ 1.05×).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import bindparam, select, update

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.open311_double import Open311Double, open311_double  # noqa: E402

from bench.core_throughput import make_forms  # noqa: E402
from bench.finish import finish  # noqa: E402
from connectors.open311 import Open311Connector  # noqa: E402
from connectors.open311_mapping import Open311Mapping, request_form  # noqa: E402
from connectors.open311_xml import parse_xml  # noqa: E402
from crm_bridge.app import Bridge  # noqa: E402
from crm_bridge.intake import draft_from, log_enquiry  # noqa: E402
from crm_bridge.models import Enquiry, Status  # noqa: E402
from crm_bridge.resources import example_config, shipped_mappings  # noqa: E402
from crm_bridge.store.engine import make_engine  # noqa: E402
from crm_bridge.store.enquiries import add_history_rows, history_row, row_to_enquiry  # noqa: E402
from crm_bridge.store.migrate import upgrade  # noqa: E402
from crm_bridge.store.tables import enquiries, outbox  # noqa: E402
from crm_bridge.sync.push import BATCH  # noqa: E402
from crm_bridge.sync.runner import run_sync  # noqa: E402

GOAL = 1.05
ROUND = 20
KEY_VARIABLE = "OPEN311_API_KEY"
LOCAL = ("connector:\n  type: local\n  # local: the SQLite file holding the cases (beside "
         "this file if relative).\n  path: local-crm.db\n")
_SENT = (update(enquiries).where(enquiries.c.id == bindparam("_id"))
         .values(crm_ref=bindparam("_ref"), status=Status.SENT.value, failure_reason=None,
                 updated_at=bindparam("_now")))
_DONE = (update(outbox).where(outbox.c.id == bindparam("_oid"))
         .values(state="done", done_at=bindparam("_now"), attempts=outbox.c.attempts + 1))


def make_council(folder: Path, double: Open311Double, fmt: str) -> Path:
    config = folder / "config.yaml"
    text = example_config().read_text(encoding="utf-8")
    assert text.count(LOCAL) == 1, "the example config's connector section changed"
    config.write_text(text.replace(LOCAL, (
        f"connector:\n  type: open311\n  url: {double.url}\n  api_key: ${{{KEY_VARIABLE}}}\n"
        f"  jurisdiction_id: {double.jurisdiction_id}\n  format: {fmt}\n")), encoding="utf-8")
    shutil.copytree(shipped_mappings(), folder / "mappings")
    mapping = folder / "mappings" / "open311.yaml"
    data = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    data["services"] = dict.fromkeys(data["services"], "POT")  # the double's code
    data["fallback_address"] = "Kilncraigs, Greenside Street, Alloa"  # for no location
    mapping.write_text(yaml.safe_dump(data), encoding="utf-8")
    engine = make_engine(f"sqlite:///{folder / 'crm-bridge.db'}")
    upgrade(engine)
    engine.dispose()
    return config


def log_enquiries(bridge: Bridge, count: int, seed: int) -> list[Enquiry]:
    now = datetime.now(UTC)
    return [log_enquiry(bridge.engine, bridge.config, bridge.router, draft_from(form), now)
            for form in make_forms(bridge.config, count, now, seed)]


class RawLoop:
    """The floor: pending rows read, the same form POSTed, the same writes; no look-up."""

    def __init__(self, bridge: Bridge, double: Open311Double, fmt: str) -> None:
        self.bridge, self.fmt = bridge, fmt
        self.mapping = bridge.mapping()
        assert isinstance(self.mapping, Open311Mapping)
        self.url = f"{double.url}/requests.{fmt}"
        self.common = [("jurisdiction_id", double.jurisdiction_id)]
        self.key = [("api_key", double.api_key)]
        self.session = requests.Session()

    def post(self, form: list[tuple[str, str]]) -> str:
        with self.session.post(self.url, params=self.common, data=form + self.key,
                               timeout=30) as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"raw POST: HTTP {answer.status_code} {answer.text[:200]}")
            data = answer.json() if self.fmt == "json" else parse_xml(answer.content)
        return str(data[0]["service_request_id"])

    def form(self, enquiry: Enquiry) -> list[tuple[str, str]]:
        destination = self.bridge.config.service(enquiry.service_id)
        assert destination is not None and isinstance(self.mapping, Open311Mapping)
        spec = self.mapping.service(destination)
        assert spec is not None
        return request_form(self.mapping, spec, enquiry, destination, ())

    def __call__(self) -> float:
        began = time.perf_counter()
        engine = self.bridge.engine
        with engine.connect() as conn:
            pending = conn.execute(select(outbox.c.id, outbox.c.enquiry_id).where(
                outbox.c.state == "pending", outbox.c.kind == "create_case")
                .order_by(outbox.c.id)).all()
            rows = {r.id: r for r in conn.execute(select(enquiries).where(
                enquiries.c.id.in_([p.enquiry_id for p in pending])))}
        for start in range(0, len(pending), BATCH):
            chunk = pending[start:start + BATCH]
            refs = [self.post(self.form(row_to_enquiry(rows[p.enquiry_id]))) for p in chunk]
            now = datetime.now(UTC)
            with engine.begin() as conn:
                conn.execute(_SENT, [{"_id": p.enquiry_id, "_ref": ref, "_now": now}
                                     for p, ref in zip(chunk, refs, strict=True)])
                add_history_rows(conn, [history_row(p.enquiry_id, now, "sent", "sync",
                                                    f"case {ref} opened in the CRM",
                                                    Status.SENT)
                                        for p, ref in zip(chunk, refs, strict=True)])
                conn.execute(_DONE, [{"_oid": p.id, "_now": now} for p in chunk])
        return time.perf_counter() - began


def bridge_push(bridge: Bridge) -> float:
    began = time.perf_counter()
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      only=("push",))
    seconds = time.perf_counter() - began
    if not report.ok:
        raise RuntimeError(f"bridge push went wrong: {report.summary()} {report.problems}")
    return seconds


def fresh_creates(bridge: Bridge, batch: Sequence[Enquiry]) -> float:
    connector = bridge.connector()
    assert isinstance(connector, Open311Connector)
    began = time.perf_counter()
    for enquiry in batch:
        destination = bridge.config.service(enquiry.service_id)
        assert destination is not None
        connector.create_case(enquiry, destination, fresh=True)
    return time.perf_counter() - began


def raw_posts(raw: RawLoop, batch: Sequence[Enquiry]) -> float:
    """The same forms built (as the connector builds them) and POSTed, nothing else."""
    began = time.perf_counter()
    for enquiry in batch:
        raw.post(raw.form(enquiry))
    return time.perf_counter() - began


def _copies(batch: Sequence[Enquiry]) -> list[Enquiry]:
    return [e.model_copy(update={"id": uuid.uuid4()}) for e in batch]


def run(count: int, fmt: str, seed: int) -> tuple[dict[str, Any], list[str]]:
    folder = Path(tempfile.mkdtemp(prefix="open311-push-"))
    totals = {"bridge": 0.0, "raw": 0.0, "fresh": 0.0, "posts": 0.0}
    logged: list[Enquiry] = []
    copies: list[Enquiry] = []
    try:
        with open311_double() as double:
            os.environ[KEY_VARIABLE] = double.api_key
            bridge = Bridge.open(make_council(folder, double, fmt))
            raw = RawLoop(bridge, double, fmt)
            try:
                for index, start in enumerate(range(0, count, ROUND)):
                    size = min(ROUND, count - start)
                    order = ("bridge", "raw") if index % 2 == 0 else ("raw", "bridge")
                    for side in order:
                        batch = log_enquiries(bridge, size, seed + 2 * index
                                              + (side == "raw"))
                        logged += batch
                        totals[side] += bridge_push(bridge) if side == "bridge" else raw()
                    batch = _copies(batch)
                    copies += batch
                    pair = ("fresh", "posts") if index % 2 == 0 else ("posts", "fresh")
                    for side in pair:
                        twin = batch if side == "fresh" else _copies(batch)
                        if side == "posts":
                            copies.extend(twin)
                        totals[side] += (fresh_creates(bridge, twin) if side == "fresh"
                                         else raw_posts(raw, twin))
                lookups = double.calls["GET requests"]
                problems = _verify(bridge, double, logged, copies)
            finally:
                raw.session.close()
                bridge.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "enquiries per side": count, "format": fmt,
        "bridge sync push (s)": round(totals["bridge"], 3),
        "raw loop, POST + store (s)": round(totals["raw"], 3),
        "ratio sync/raw": round(totals["bridge"] / totals["raw"], 3),
        "look-ups by the bridge (GET requests)": lookups,
        "connector create_case fresh (s)": round(totals["fresh"], 3),
        "raw POSTs alone (s)": round(totals["posts"], 3),
        "ratio fresh/raw POSTs": round(totals["fresh"] / totals["posts"], 3),
        "goal": f"<= {GOAL}x", "load average": round(os.getloadavg()[0], 2),
    }
    return result, problems


def _verify(bridge: Bridge, double: Open311Double, logged: list[Enquiry],
            copies: list[Enquiry]) -> list[str]:
    problems = [f"{len(double.problems)} answers of the double broke the schemas"
                ] if double.problems else []
    marks: dict[str, int] = {}
    for request in double.state.requests.values():
        found = re.search(r"\[crm-bridge ([0-9a-f-]{36})\]", request.description)
        if found:
            marks[found[1]] = marks.get(found[1], 0) + 1
    for enquiry in [*logged, *copies]:
        if marks.get(str(enquiry.id)) != 1:
            problems.append(f"enquiry {enquiry.id}: {marks.get(str(enquiry.id), 0)} requests")
    with bridge.engine.connect() as conn:
        unsent = conn.execute(select(enquiries.c.id).where(
            enquiries.c.crm_ref.is_(None))).all()
    problems += [f"enquiry {row.id} has no CRM reference" for row in unsent]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=300, help="per side")
    parser.add_argument("--format", choices=["json", "xml"], default="json")
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result, problems = run(args.enquiries, args.format, args.seed)
    return finish(result, problems, args.json, 40, most=10)


if __name__ == "__main__":
    sys.exit(main())
