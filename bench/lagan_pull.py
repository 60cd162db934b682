"""Lagan pull: the lagan connector reading changes from the capped FL double.

    python -m bench.lagan_pull [--cases 10000] [--changed 100] [--ignore-modified] [--json]

Starts the FL double's ``site`` personality (searches capped at 500 cases, no
LastModifiedDate in case details, its own binding and imported XSD), opens ``--cases``
bridge cases in it directly (a minute apart), then times, through ``fetch_updates``:

  first    the first pull (no cursor): every case read, in windows under the cap;
  changed  ``--changed`` of the newest cases get an officer's note or a closure; the next
           pull from the first one's cursor;
  quiet    one more pull from that cursor, nothing changed.

With ``--ignore-modified`` the double ignores LastModifiedDateFrom in searches (a server
that does not know the criterion): the connector then reads every case on every pull and
its fingerprints keep the updates, and so the bridge's work, to the changes.

Before printing it verifies the work: the first pull reports every case once, the second
exactly the changed ones (each note and closure), the third nothing. Goal: the cost of a
pull follows the changes, not the cases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.lagan_double import lagan_double  # noqa: E402

from bench.finish import finish  # noqa: E402
from connectors.base import CaseUpdate, ConnectorContext  # noqa: E402
from connectors.lagan import LaganConnector, LaganSettings  # noqa: E402
from connectors.lagan_mapping import LaganMapping  # noqa: E402


def _mapping() -> LaganMapping:
    text = (REPO / "mappings" / "lagan.yaml").read_text(encoding="utf-8")
    return LaganMapping.model_validate(yaml.safe_load(text))


def _timed(connector: LaganConnector, since: str | None) -> tuple[list[CaseUpdate], float]:
    started = time.perf_counter()
    updates = list(connector.fetch_updates(since))
    return updates, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--ignore-modified", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    problems: list[str] = []
    result: dict[str, Any] = {"cases": args.cases, "changed": args.changed,
                              "modified_filter": not args.ignore_modified}
    with lagan_double(personality="site", modified_filter=not args.ignore_modified) as double, \
            tempfile.TemporaryDirectory() as tmp:
        start = datetime.now(UTC) - timedelta(minutes=args.cases + 10)
        refs = [double.store.add_case(f"ENQ-{n}: pothole [bridge e-{n}]", f"e-{n}",
                                      raised_by=double.username,
                                      opened=start + timedelta(minutes=n))
                for n in range(args.cases)]
        connector = LaganConnector(
            LaganSettings(url=double.url, username=double.username, password=double.password,
                          search_page_size=500),
            ConnectorContext(Path(tmp), _mapping()))
        connector.health()  # WSDL read, token fetched: once, not timed
        first, first_s = _timed(connector, None)
        result["first"] = {"seconds": round(first_s, 3), "updates": len(first),
                           **connector.last_read}
        if len({u.case_ref for u in first}) != args.cases:
            problems.append(f"first pull reported {len({u.case_ref for u in first})} cases")
        changed = refs[-args.changed:]
        for n, ref in enumerate(changed):
            if n % 2:
                double.store.close(ref, "Resolved - work completed")
            else:
                double.store.add_officer_note(ref, f"Repaired ({ref}).")
        second, second_s = _timed(connector, first[-1].cursor)
        result["changed_pull"] = {"seconds": round(second_s, 3), "updates": len(second),
                                  **connector.last_read}
        if {u.case_ref for u in second} != set(changed):
            problems.append("the second pull did not report exactly the changed cases")
        responses = sum(1 for u in second if u.response)
        closures = sum(1 for u in second if (u.crm_status or "").startswith("closed"))
        if (responses, closures) != ((len(changed) + 1) // 2, len(changed) // 2):
            problems.append(f"second pull: {responses} notes, {closures} closures")
        third, third_s = _timed(connector, second[-1].cursor if second else first[-1].cursor)
        result["quiet_pull"] = {"seconds": round(third_s, 3), "updates": len(third),
                                **connector.last_read}
        if third:
            problems.append(f"the quiet pull reported {len(third)} updates")
        result["cursor_bytes"] = len((second or first)[-1].cursor)
        connector.close()
    return finish(result, problems, args.json, width=16)


if __name__ == "__main__":
    raise SystemExit(main())
