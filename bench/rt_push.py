"""RT push: enquiries through the bridge to a real RT5, beside a bare `requests` loop.

    python -m bench.rt_push [--enquiries 300] [--threads 2,4] [--reuse] [--json]

Starts an RT of its own (scripts/rt5-start.sh on 127.0.0.1:8097, files under
/var/lib/crm-bridge-rt/bench: a fresh database unless --reuse, the bridge's account from
tests/support/rt_initialdata.pl; stopped afterwards unless --keep), makes a council folder
switched to `type: rt`, runs `connector setup`, logs N enquiries, then times:

  bridge   `sync` push steps (run_sync only=push): per enquiry the queue check
           (once per queue), the look-up by enquiry id unless push tells the
           connector the create is a first attempt (create_case fresh=True),
           POST /ticket, and the bookkeeping in the state store;
  fresh    the connector's create_case(fresh=True) in a loop: the queue check,
           building and validating the JSON, POST /ticket, reading RT's answer;
           no look-up and no state store (what a first attempt costs in RT);
  raw      POST /ticket of the very same JSON (ticket_payload of the same
           enquiries, each with a new id) from a bare requests.Session loop,
           same account, same server, no look-up, no state store.

Steps take turns in rounds of 10 enquiries, in reverse order every other round
(ABC, CBA, ...), so RT slowing as its database grows falls on all alike. With
--threads, the same comparison with N threads: raw POSTs from a thread pool, and
the connector's create_case(fresh=True) from a pool (what a concurrent push would
do for first attempts; `sync` itself pushes one at a time).
Run as root (RT is installed and started as needed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.core_throughput import make_forms
from connectors.rt import RtConnector
from connectors.rt_mapping import RtMapping, ticket_payload
from crm_bridge.app import Bridge
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import Enquiry, ServiceDestination
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.migrate import upgrade
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.runner import run_sync

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "rt5-start.sh"
INITDATA = REPO / "tests" / "support" / "rt_initialdata.pl"
STATE_DIR = Path(os.environ.get("RT_STATE_DIR", "/var/lib/crm-bridge-rt/bench"))
PORT = os.environ.get("RT_PORT", "8097")  # its own RT: tests and others' runs are left alone
GOAL = 1.05  # the bridge within 5% of the raw loop

LOCAL = ("connector:\n  type: local\n  # local: the SQLite file holding the cases (beside "
         "this file if relative).\n  path: local-crm.db\n")


@dataclass
class Timing:
    what: str
    threads: int
    tickets: int
    seconds: float

    @property
    def ms_per_ticket(self) -> float:
        return 1000 * self.seconds / self.tickets


def rt_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, "RT_STATE_DIR": str(STATE_DIR),
                                            "RT_PORT": PORT, **env})


def start_rt(fresh: bool) -> tuple[str, float]:
    began = time.perf_counter()
    done = rt_script(RT_INITDATA=str(INITDATA), RT_FRESH="1" if fresh else "0")
    if done.returncode != 0:
        sys.exit(f"RT did not start:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1], time.perf_counter() - began


def make_council(folder: Path, url: str) -> Path:
    config = folder / "config.yaml"
    text = example_config().read_text(encoding="utf-8")
    assert text.count(LOCAL) == 1, "the example config's connector section changed"
    text = text.replace(LOCAL, f"connector:\n  type: rt\n  url: {url}\n  token: ${{RT_TOKEN}}\n")
    text = re.sub(r"(?m)^(\s+crm_target: .+)$", r"\1 (bench)", text)  # queues of its own
    config.write_text(text, encoding="utf-8")
    shutil.copytree(shipped_mappings(), folder / "mappings")
    engine = make_engine(f"sqlite:///{folder / 'crm-bridge.db'}")
    upgrade(engine)
    engine.dispose()
    return config


def log_enquiries(bridge: Bridge, count: int, seed: int) -> list[Enquiry]:
    now = datetime.now(UTC)
    forms = make_forms(bridge.config, count, now, seed)
    logged = [log_enquiry(bridge.engine, bridge.config, bridge.router, draft_from(f), now)
              for f in forms]
    return logged


ROUND = 10
"""Enquiries per round: bridge and raw take turns (ABBA...), so a burst of load from
anything else on the machine falls on both alike."""


class RawLoop:
    """POST /ticket from a bare requests.Session: no look-up, no validation, no store."""

    def __init__(self, url: str, token: str, threads: int) -> None:
        self.url = f"{url}/REST/2.0/ticket"
        self.threads = threads
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(threads, 1))
        self.session.mount("http://", adapter)

    def post(self, body: dict[str, Any]) -> None:
        with self.session.post(self.url, json=body, timeout=30) as answer:
            if answer.status_code != 201:
                raise RuntimeError(f"raw POST: HTTP {answer.status_code} {answer.text[:200]}")

    def __call__(self, bodies: Sequence[dict[str, Any]]) -> float:
        return pooled(self.threads, self.post, bodies)

    def close(self) -> None:
        self.session.close()


def bridge_push(bridge: Bridge, enquiries: Sequence[Enquiry]) -> float:
    began = time.perf_counter()
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      only=("push",), deadline=Deadline(None))  # the whole push, timed
    seconds = time.perf_counter() - began
    if report.pushed != len(enquiries) or not report.ok:
        sys.exit(f"bridge push went wrong: {report.summary()} {report.problems}")
    with bridge.engine.connect() as conn:
        found = [get_enquiry(conn, str(e.id)) for e in enquiries]
    if not all(f is not None and f.crm_ref for f in found):
        sys.exit("bridge push: an enquiry has no CRM reference after sync")
    return seconds


def payloads(bridge: Bridge, enquiries: Sequence[Enquiry]) -> list[dict[str, Any]]:
    """The JSON the connector sends for each enquiry, each with a new enquiry id."""
    mapping = bridge.mapping()
    assert isinstance(mapping, RtMapping)
    made = []
    for enquiry in enquiries:
        destination = bridge.config.service(enquiry.service_id)
        assert destination is not None
        fresh = enquiry.model_copy(update={"id": uuid.uuid4()})
        made.append(ticket_payload(mapping, fresh, destination, False))
    return made


def pooled(threads: int, work: Callable[[Any], None], items: Sequence[Any]) -> float:
    began = time.perf_counter()
    if threads == 1:
        for item in items:
            work(item)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, items))
    return time.perf_counter() - began


def connector_pool(bridge: Bridge, enquiries: Sequence[Enquiry], threads: int) -> float:
    """create_case(fresh=True) from a thread pool, as a concurrent push would call it for
    first attempts; each must open a ticket of its own, or the run stops."""
    connector = bridge.connector()
    assert isinstance(connector, RtConnector)
    services: dict[str, ServiceDestination] = {s.id: s for s in bridge.config.services}
    opened: list[str] = []

    def create(enquiry: Enquiry) -> None:
        new = enquiry.model_copy(update={"id": uuid.uuid4()})
        case = connector.create_case(new, services[enquiry.service_id], fresh=True)
        if not case.created:
            raise RuntimeError(f"create_case found ticket {case.id} for a new enquiry")
        opened.append(case.id)

    seconds = pooled(threads, create, enquiries)
    if len(set(opened)) != len(enquiries):
        sys.exit(f"create_case opened {len(set(opened))} tickets for {len(enquiries)} enquiries")
    return seconds


class CallTimes(logging.Handler):
    """The connector's own INFO line per RT call, summed by kind of call."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ms: dict[str, list[int]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = re.match(r"RT (\w+ /[a-z]+)\S* -> \d+ \((\d+) ms\)", record.getMessage())
        if found:
            self.ms.setdefault(found.group(1), []).append(int(found.group(2)))

    def summary(self) -> dict[str, dict[str, float]]:
        return {call: {"calls": len(ms), "mean_ms": round(sum(ms) / len(ms), 1)}
                for call, ms in sorted(self.ms.items())}


Step = tuple[tuple[str, int], Callable[[], float]]


def _take_turns(index: int, totals: dict[tuple[str, int], float], *steps: Step) -> None:
    """Run the steps, in reverse order every other round, adding up each one's seconds."""
    for key, step in (steps if index % 2 == 0 else steps[::-1]):
        totals[key] = totals.get(key, 0.0) + step()


def run(count: int, threads: Sequence[int], fresh: bool, seed: int) -> dict[str, Any]:
    url, start_seconds = start_rt(fresh)
    token = (STATE_DIR / "crm-bridge.token").read_text(encoding="utf-8").strip()
    os.environ["RT_TOKEN"] = token
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="rt-push-"))
    calls = CallTimes()
    logger = logging.getLogger("connectors.rt_client")
    logger.setLevel(logging.INFO)
    try:
        bridge = Bridge.open(make_council(folder, url))
        try:
            connector = bridge.connector()
            assert isinstance(connector, RtConnector)
            problems = [f for f in connector.setup(bridge.config.services) if not f.ok]
            if problems:
                sys.exit(f"connector setup: {problems}")
            totals: dict[tuple[str, int], float] = {}
            every: list[Enquiry] = []
            raw = RawLoop(url, token, 1)
            logger.addHandler(calls)
            for index, start in enumerate(range(0, count, ROUND)):
                batch = log_enquiries(bridge, min(ROUND, count - start), seed + index)
                bodies = payloads(bridge, batch)
                every += batch
                _take_turns(index, totals,
                            (("bridge sync push", 1), partial(bridge_push, bridge, batch)),
                            (("bridge create_case fresh", 1),
                             partial(connector_pool, bridge, batch, 1)),
                            (("raw requests loop", 1), partial(raw, bodies)))
            logger.removeHandler(calls)
            raw.close()
            for n in threads:
                pool = RawLoop(url, token, n)
                for index, start in enumerate(range(0, count, ROUND * n)):
                    batch = every[start:start + ROUND * n]
                    bodies = payloads(bridge, batch)
                    _take_turns(index, totals,
                                (("bridge create_case fresh", n),
                                 partial(connector_pool, bridge, batch, n)),
                                (("raw requests loop", n), partial(pool, bodies)))
                pool.close()
        finally:
            bridge.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    timings = [Timing(what, n, count, seconds) for (what, n), seconds in totals.items()]
    timings.sort(key=lambda t: (t.threads, t.what != "raw requests loop"))
    return {"rt_url": url, "rt_start_seconds": round(start_seconds, 1), "fresh_db": fresh,
            "load_average_before": round(load, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "tickets": count,
            "timings": [asdict(t) | {"ms_per_ticket": round(t.ms_per_ticket, 1)}
                        for t in timings],
            "bridge_calls": calls.summary(), "ratios": ratios(timings)}


def ratios(timings: Sequence[Timing]) -> dict[str, float]:
    """Bridge time / raw time, for the same number of threads, and against the 1-thread loop."""
    raw = {t.threads: t.seconds for t in timings if t.what.startswith("raw")}
    out: dict[str, float] = {}
    for t in timings:
        if t.what.startswith("bridge"):
            same = raw[t.threads]
            out[f"{t.what}, {t.threads} thread(s) vs raw, same threads"] = round(
                t.seconds / same, 3)
            if t.threads != 1:
                out[f"{t.what}, {t.threads} thread(s) vs raw, 1 thread"] = round(
                    t.seconds / raw[1], 3)
    return out


def show(result: dict[str, Any]) -> None:
    print(f"RT at {result['rt_url']} ({'fresh' if result['fresh_db'] else 'reused'} database, "
          f"started in {result['rt_start_seconds']} s); {result['tickets']} tickets per row")
    print(f"{'':32} {'threads':>7} {'seconds':>8} {'ms/ticket':>9}")
    for t in result["timings"]:
        print(f"{t['what']:32} {t['threads']:>7} {t['seconds']:>8.1f} {t['ms_per_ticket']:>9.1f}")
    for call, seen in result["bridge_calls"].items():
        print(f"  bridge's RT calls: {call:18} {seen['calls']:>5} x {seen['mean_ms']:>6.1f} ms")
    print(f"load average before {result['load_average_before']}, "
          f"after {result['load_average_after']} (2 cores shared with anything else running)")
    for name, value in result["ratios"].items():
        verdict = "within 5%" if value <= GOAL else "over 5%"
        print(f"ratio bridge/raw, {name}: {value:.3f} ({verdict})")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rt_push", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enquiries", type=int, default=300)
    parser.add_argument("--threads", default="", help="also time with these thread counts: 2,4")
    parser.add_argument("--reuse", action="store_true", help="keep RT's database as it is")
    parser.add_argument("--keep", action="store_true", help="leave the benchmark's RT running")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    threads = [int(n) for n in args.threads.split(",") if n.strip()]
    try:
        result = run(args.enquiries, threads, not args.reuse, args.seed)
    finally:
        if not args.keep:
            rt_script("stop")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
