"""How long `crm-bridge demo` takes to build its council: the figure tests/test_demo.py
deliberately does not assert (a test must not fail because the machine is slow).

    python -m bench.demo_build [--enquiries 600] [--months 18] [--repeat 3] [--json]

Each repeat builds the demo afresh in a temporary folder through ``run_demo`` (the same
call the command makes, process start-up excluded) and reports its seconds, the sync runs
it made and what it produced, so a faster build can be seen to have done the same work.
The goal is ``GOAL_SECONDS`` on a quiet machine: `make demo` should reach the portal in
the time its install takes plus at most 30 seconds, on a busy machine too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from crm_bridge.demo import run_demo

GOAL_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=600)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seconds: list[float] = []
    produced: dict[str, object] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            result = run_demo(Path(scratch) / "council", enquiries=args.enquiries,
                              months=args.months)
            seconds.append(time.perf_counter() - started)
            figures = result.figures
            produced = {"sync runs": result.syncs, "logged": figures.logged,
                        "sent": figures.sent, "answered": figures.answered,
                        "closed": figures.closed, "e-mails": sum(figures.emails.values())}
    summary = {"enquiries": args.enquiries, "months": args.months,
               "seconds": [round(s, 2) for s in seconds],
               "median seconds": round(statistics.median(seconds), 2),
               "goal seconds": GOAL_SECONDS, "produced": produced}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"demo build, {args.enquiries} enquiries over {args.months} months: "
          f"median {summary['median seconds']} s of {summary['seconds']} "
          f"(goal {GOAL_SECONDS} s)")
    print("produced: " + ", ".join(f"{k} {v}" for k, v in produced.items()))


if __name__ == "__main__":
    main()
