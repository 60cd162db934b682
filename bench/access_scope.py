"""Search and dashboard reads under the access policy, one principal at a time, with 100,000
enquiries: a members' services account (20 members, so the member test is on
``member_id || ''`` and the newest-first index leads), a councillor, and an MP.

    python -m bench.access_scope [--enquiries 100000] [--repeat 30]

The store is filled by ``bench.portal_load.seed`` (its bulk insert), in a temporary folder
removed afterwards. Prints p50 and p95 in milliseconds per read, in-process (no HTTP).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.portal.queries import dashboard, search
from crm_bridge.store.enquiries import EnquiryFilter


def _timed(read: Callable[[], object], repeat: int) -> str:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        read()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return (f"p50 {statistics.median(times):6.1f} ms   "
            f"p95 {times[max(0, int(repeat * 0.95) - 1)]:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    from bench.portal_load import seed

    root = Path(tempfile.mkdtemp(prefix="crm-bridge-access-"))
    try:
        bridge = Bridge.open(seed(root, args.enquiries))
        config, zone = bridge.config, bridge.router.calendar.zone

        def who(role: UserRole, member: str | None = None, group: str | None = None
                ) -> Principal:
            return principal_for(config, user_id=1, username="bench", name="Bench", role=role,
                                 member_id=member, staff_group=group, session_id="bench")

        people = {"staff (members-services)": who(UserRole.STAFF, group="members-services"),
                  "councillor": who(UserRole.MEMBER, "cllr-kirsty-dalgleish"),
                  "MP": who(UserRole.MEMBER, "mp-angus-tulloch")}
        searches = {"a common word": EnquiryFilter(text="pothole"), "no text": EnquiryFilter(),
                    "open only": EnquiryFilter(open_only=True),
                    "a surname": EnquiryFilter(text="Paterson")}
        with bridge.engine.connect() as conn:
            for label, where in searches.items():
                for name, person in people.items():
                    print(f"search {label:14} {name:25}", _timed(
                        lambda p=person, w=where: search(conn, p, w, 1, 25, zone), args.repeat))
            for name, person in people.items():
                print(f"dashboard {'':11} {name:25}", _timed(
                    lambda p=person: dashboard(conn, p, date.today()), args.repeat))
        bridge.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
