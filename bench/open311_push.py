"""Open311 push: enquiries through the bridge's sync to the GeoReport v2 double, beside a
bare requests loop doing the same POSTs and the same store writes.

    python -m bench.open311_push [--enquiries 300] [--format json|xml] [--json]

Starts the Open311 double (tests/support/open311_double: real HTTP on loopback, every call
checked against swagger.json, every answer against the JSON Schemas) in a process of its
own, as a council's Open311 server is: in this process its threads would take turns with the
client's for Python's one interpreter lock, so each millisecond either side spends in Python
would be paid twice (``--same-process`` runs it that way, to show the difference). Makes a council
folder switched to ``type: open311`` (SQLite store), and in rounds of ``ROUND`` fresh
enquiries, ABBA (bridge, raw, raw, bridge), times:

  bridge   ``run_sync(only=push)``: claims read from the outbox, enquiries read and
           validated, per enquiry the connector's look-up of the request an earlier try
           may have opened (GET requests for the service), POST requests, and the batched
           store writes (the enquiry's CRM reference and status, its history row, the
           outbox row done);
  raw      the floor: the same durable work by hand. The run's lock row taken and let go
           (one sync at a time), the same pending rows read; per ``BATCH``, the
           attempt-started marker committed on its rows before their POSTs (what lets a
           first try skip the look-up and a retry know to look), the same form (the
           mapping's ``request_form``) POSTed from a bare ``requests.Session``, the id
           picked out of the answer, and the same writes in one transaction; no look-up.

Then, as a second figure, ``create_case(fresh=True)`` from the connector (no look-up:
what push does once it passes ``fresh``) beside the bare POST loop, without the store.

Before printing, the work is verified: every enquiry of either half has exactly one
request in the double (found by its marker), and every stored enquiry its reference.
Prints each time, the ratios, and how many look-ups the bridge made (goal: ≤ 1.05×).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import bindparam, select, update

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.open311_double import open311_double  # noqa: E402

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
from crm_bridge.store.tables import enquiries, locks, outbox  # noqa: E402
from crm_bridge.sync.push import BATCH  # noqa: E402
from crm_bridge.sync.runner import LOCK, run_sync  # noqa: E402

GOAL = 1.05
ROUND = 20
KEY_VARIABLE = "OPEN311_API_KEY"
LOCAL = ("connector:\n  type: local\n  # local: the SQLite file holding the cases (beside "
         "this file if relative).\n  path: local-crm.db\n")
_SENT = (update(enquiries).where(enquiries.c.id == bindparam("_id"))
         .values(crm_ref=bindparam("_ref"), status=Status.SENT.value, failure_reason=None,
                 updated_at=bindparam("_now")))
_STARTED = (update(outbox).where(outbox.c.id == bindparam("_oid"))
            .values(attempt_started_at=bindparam("_now")))
_DONE = (update(outbox).where(outbox.c.id == bindparam("_oid"))
         .values(state="done", done_at=bindparam("_now"), attempts=outbox.c.attempts + 1))


@dataclass(frozen=True)
class Double:
    """The double as the benchmark needs it: where it is, and what it was asked and holds."""

    url: str
    api_key: str
    jurisdiction_id: str
    _ask: Any  # (question) -> answer

    def lookups(self) -> int:
        return int(self._ask("lookups"))

    def problems(self) -> list[str]:
        return list(self._ask("problems"))

    def marks(self) -> dict[str, int]:
        """Requests held per enquiry id, found by the bridge's marker in the description."""
        return dict(self._ask("marks"))


def _answer(double: Any, question: str) -> Any:
    if question == "lookups":
        return double.calls["GET requests"]
    if question == "problems":
        return list(double.problems)
    marks: dict[str, int] = {}
    for request in double.state.requests.values():
        found = re.search(r"\[crm-bridge ([0-9a-f-]{36})\]", request.description)
        if found:
            marks[found[1]] = marks.get(found[1], 0) + 1
    return marks


def _serve(pipe: Connection) -> None:
    """The double's own process: serve until told to stop, answering the bench's questions."""
    with open311_double() as double:
        pipe.send((double.url, double.api_key, double.jurisdiction_id))
        while (question := pipe.recv()) != "stop":
            pipe.send(_answer(double, question))


@contextmanager
def started_double(same_process: bool) -> Iterator[Double]:
    if same_process:
        with open311_double() as double:
            yield Double(double.url, double.api_key, double.jurisdiction_id,
                         lambda question: _answer(double, question))
        return
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs,),
                                                          daemon=True)
    server.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the Open311 double's process did not start within 60 s")
        url, api_key, jurisdiction_id = ours.recv()

        def ask(question: str) -> Any:
            ours.send(question)
            return ours.recv()

        yield Double(url, api_key, jurisdiction_id, ask)
    finally:
        if server.is_alive():
            ours.send("stop")
        server.join(timeout=30)
        if server.is_alive():
            server.kill()


def make_council(folder: Path, double: Double, fmt: str) -> Path:
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

    def __init__(self, bridge: Bridge, double: Double, fmt: str) -> None:
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
        with engine.begin() as conn:
            conn.execute(locks.insert().values(name=LOCK, holder=f"raw:{os.getpid()}",
                                               pid=os.getpid(), host="raw",
                                               since=datetime.now(UTC)))
        with engine.connect() as conn:
            pending = conn.execute(select(outbox.c.id, outbox.c.enquiry_id).where(
                outbox.c.state == "pending", outbox.c.kind == "create_case")
                .order_by(outbox.c.id)).all()
            rows = {r.id: r for r in conn.execute(select(enquiries).where(
                enquiries.c.id.in_([p.enquiry_id for p in pending])))}
        for start in range(0, len(pending), BATCH):
            chunk = pending[start:start + BATCH]
            with engine.begin() as conn:
                conn.execute(_STARTED, [{"_oid": p.id, "_now": datetime.now(UTC)}
                                        for p in chunk])
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
        with engine.begin() as conn:
            conn.execute(locks.delete().where(locks.c.name == LOCK))
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


def run(count: int, fmt: str, seed: int, same_process: bool = False
        ) -> tuple[dict[str, Any], list[str]]:
    folder = Path(tempfile.mkdtemp(prefix="open311-push-"))
    totals = {"bridge": 0.0, "raw": 0.0, "fresh": 0.0, "posts": 0.0}
    logged: list[Enquiry] = []
    copies: list[Enquiry] = []
    try:
        with started_double(same_process) as double:
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
                lookups = double.lookups()
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
        "double": "in this process" if same_process else "in a process of its own",
        "goal": f"<= {GOAL}x", "load average": round(os.getloadavg()[0], 2),
    }
    return result, problems


def _verify(bridge: Bridge, double: Double, logged: list[Enquiry],
            copies: list[Enquiry]) -> list[str]:
    broken = double.problems()
    problems = [f"{len(broken)} answers of the double broke the schemas"] if broken else []
    marks = double.marks()
    for enquiry in [*logged, *copies]:
        if marks.get(str(enquiry.id)) != 1:
            problems.append(f"enquiry {enquiry.id}: {marks.get(str(enquiry.id), 0)} requests")
    with bridge.engine.connect() as conn:
        unsent = conn.execute(select(enquiries.c.id).where(
            enquiries.c.crm_ref.is_(None))).all()
        open_rows = conn.execute(select(outbox.c.id).where(
            (outbox.c.state != "done") | outbox.c.attempt_started_at.is_(None))).all()
        held_locks = conn.execute(select(locks.c.name)).all()
    problems += [f"enquiry {row.id} has no CRM reference" for row in unsent]
    problems += [f"outbox row {row.id} is not done, or has no attempt marker"
                 for row in open_rows]
    problems += [f"lock {row.name} is still held" for row in held_locks]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=300, help="per side")
    parser.add_argument("--format", choices=["json", "xml"], default="json")
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--same-process", action="store_true",
                        help="run the double in this process (its threads share the "
                             "interpreter lock with the bridge)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result, problems = run(args.enquiries, args.format, args.seed, args.same_process)
    return finish(result, problems, args.json, 40, most=10)


if __name__ == "__main__":
    sys.exit(main())
