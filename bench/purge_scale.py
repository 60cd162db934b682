"""Purge at scale: how long `crm-bridge purge` takes to remove N expired enquiries.

    python -m bench.purge_scale [--enquiries 20000] [--store postgresql://...] [--json]

Setup (not timed): a council folder from the example config, a store at head, and
``--enquiries`` closed enquiries written in bulk, each with four history rows and an audit
row, all closed more than the longest retention period before ``NOW``.

Timed: one ``crm_bridge.privacy.purge.purge`` that removes them all (batches, history, audit,
then on SQLite the search index merge and WAL truncation; on PostgreSQL the VACUUMs). The
report totals are compared before and after (they must be equal, or the run fails).
``--store`` must name an empty scratch PostgreSQL database; drop it afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crm_bridge.app import Bridge
from crm_bridge.privacy.purge import purge
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.stats import enquiry_totals
from crm_bridge.store.tables import audit_log, enquiries, enquiry_history

NOW = datetime(2033, 1, 5, 10, 0, tzinfo=UTC)
CLOSED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # more than 72 months before NOW


def _rows(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    made, history, audit = [], [], []
    for i in range(n):
        eid = str(uuid.uuid4())
        made.append({
            "id": eid, "reference": f"ENQ-2025-{i + 1:06d}", "member_id": "cllr-kirsty-dalgleish",
            "logged_by": "staff", "channel": "email", "constituent_name": f"Person {i} Surname",
            "constituent_address": f"{i} Main Street", "constituent_postcode": "FK10 1AA",
            "constituent_email": f"p{i}@example.com", "constituent_phone": "01259 000000",
            "constituent_uprn": None, "consent_to_share": True, "consent_recorded_by": "staff",
            "consent_recorded_at": CLOSED, "category_id": "pothole", "service_id": "roads",
            "ward_id": "clacks-north", "description": f"Pothole number {i} outside the house",
            "location": f"Street {i}", "received_at": CLOSED - timedelta(days=10),
            "target_date": date(2026, 1, 9), "warning_date": date(2026, 1, 7),
            "status": "closed", "crm_ref": f"LOC-{i + 1:06d}", "response": "Filled",
            "responded_at": CLOSED, "closed_at": CLOSED, "overdue": False,
            "failure_reason": None, "extension_days": 0, "created_at": CLOSED,
            "updated_at": CLOSED})
        history += [{"enquiry_id": eid, "at": CLOSED, "event": "response", "actor": "officer",
                     "detail": f"step {k} of {i}", "status": "closed", "crm_event_id": None}
                    for k in range(4)]
        audit.append({"at": CLOSED, "actor": "staff", "action": "viewed", "enquiry_id": eid,
                      "detail": ""})
    return made, history, audit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=20_000)
    parser.add_argument("--store", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="purge-bench-"))
    try:
        url = args.store or f"sqlite:///{root / 'bridge.db'}"
        text = example_config().read_text(encoding="utf-8")
        (root / "config.yaml").write_text(
            text.replace("url: sqlite:///crm-bridge.db", f"url: {url}"), encoding="utf-8")
        shutil.copytree(shipped_mappings(), root / "mappings")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        bridge = Bridge.open(root / "config.yaml")
        with bridge.engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(enquiries)).scalar_one():
                print("--store must be an empty database (it is left holding the purged "
                      "rows: drop it afterwards)", file=sys.stderr)
                return 2
        made, history, audit = _rows(args.enquiries)
        with bridge.engine.begin() as conn:
            conn.execute(enquiries.insert(), made)
            conn.execute(enquiry_history.insert(), history)
            conn.execute(audit_log.insert(), audit)
        with bridge.engine.connect() as conn:
            before = enquiry_totals(conn, "Europe/London")
        started = time.perf_counter()
        report = purge(bridge.engine, bridge.loaded, bridge.connector, NOW, "cli:bench")
        seconds = time.perf_counter() - started
        with bridge.engine.connect() as conn:
            same = enquiry_totals(conn, "Europe/London") == before
        bridge.close()
        if len(report.references) != args.enquiries or not same:
            print("purge did not remove every enquiry, or the totals changed", file=sys.stderr)
            return 1
        figures = {"store": bridge.engine.dialect.name, "enquiries": args.enquiries,
                   "seconds": round(seconds, 2),
                   "ms_per_enquiry": round(1000 * seconds / args.enquiries, 3)}
        print(json.dumps(figures) if args.json else
              f"{figures['store']}: purged {args.enquiries} enquiries in {seconds:.1f} s "
              f"({figures['ms_per_enquiry']} ms each); report totals unchanged")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
