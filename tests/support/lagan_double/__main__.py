"""Run the FL double as a server, or a round trip of the real `crm-bridge` CLI against it.

    cd tests && ../.venv/bin/python -m support.lagan_double serve --personality site --port 8088
    cd tests && ../.venv/bin/python -m support.lagan_double roundtrip --personality site

``serve`` answers on http://127.0.0.1:PORT/lagan/services/FL until Ctrl-C (user crm-bridge,
password s3cret-pass). ``roundtrip`` makes a council with `crm-bridge init` in a temporary
folder, points it at the double, then runs, as an IT admin would, `connector check`, logs
enquiries, `sync`, has "officers" answer and close cases in the double, and `sync` again,
printing each command and its output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .server import LaganDouble, lagan_double

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str]) -> str:
    exe = str(BIN / "crm-bridge") if (BIN / "crm-bridge").exists() else "crm-bridge"
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"$ crm-bridge {shown}\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    return done.stdout


def roundtrip(double: LaganDouble, enquiries: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="lagan-roundtrip-"))
    env = {**os.environ, "LAGAN_PASSWORD": double.password}
    env.pop("CRM_BRIDGE_CONFIG", None)
    try:
        _run("init", str(folder / "council"), env=env)
        config = folder / "council" / "config.yaml"
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["connector"] = {"type": "lagan", "url": double.url, "auth": double.auth,
                             "username": double.username, "password": "${LAGAN_PASSWORD}",
                             "check_test_case": True}
        data.setdefault("reminders", {})["enabled"] = False
        config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        base = ["--config", str(config)]
        _run(*base, "connector", "check", env=env)
        for n in range(enquiries):
            _run(*base, "enquiry", "add", "--member", "cllr-morag-kinnaird", "--category",
                 "pothole", "--description", f"Pothole {n} outside the school",
                 "--name", "Jean Paterson", "--email", "jean@example.com", "--consent",
                 env=env)
        started = time.perf_counter()
        _run(*base, "sync", env=env)
        cases = [c for c in double.store.cases.values() if "[bridge " in c.title]
        for n, case in enumerate(cases):
            if n % 2 == 0:
                double.store.add_officer_note(case.ref, f"Filled on Monday (case {case.ref}).")
            else:
                double.store.close(case.ref, "Resolved - work completed")
        _run(*base, "sync", env=env)
        _run(*base, "sync", env=env)
        _run(*base, "enquiry", "list", env=env)
        print(f"three sync commands: {time.perf_counter() - started:.2f} s wall time, process "
              "start-up included; "
              f"FL calls {dict(double.calls)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["serve", "roundtrip"])
    parser.add_argument("--personality", choices=["stock", "site"], default="stock")
    parser.add_argument("--auth", choices=["token", "username_token", "basic"],
                        default="token")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--enquiries", type=int, default=4)
    args = parser.parse_args()
    with lagan_double(personality=args.personality, auth=args.auth, port=args.port) as double:
        if args.command == "roundtrip":
            roundtrip(double, args.enquiries)
            return 0
        print(f"FL double ({args.personality}, {args.auth}) at {double.url}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
