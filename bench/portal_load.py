"""Portal load test: dashboard, search and statistics latency with 100,000 enquiries under 50
concurrent clients.

    python -m bench.portal_load [--enquiries 100000] [--clients 50] [--seconds 20]

What it does, all on loopback:
1. makes a council folder (the example config) with a SQLite store, and inserts the
   enquiries in bulk straight into the store's tables (not one by one through intake), the
   answered ones with their response and closing times (the statistics page counts them);
2. adds a portal account per member and one for members' services staff;
3. starts `crm-bridge serve` as its own process;
4. runs the load from a second process (``loadgen`` below: asyncio, keep-alive HTTP/1.1, one
   connection per client, each signed in as a member or staff), in three runs:
   - *one client*: requests one after another: the time the server takes for each page;
   - *closed loop*: every client sends its next request as soon as the last one is answered
     (the server's capacity; latency then includes queueing behind the other 49);
   - *paced*: every client sends one request a second on average (50 people working),
     which is what the p95 goal is about; clients start at random points in the first
     second (all 50 starting at once made a burst of 50 that was a tenth of the run's
     requests and on its own set the p95);
5. prints p50 / p95 / p99 / max per page over the requests answered 200, and the failed
   requests (any other status, or no answer) counted apart per page, never in the
   latencies; writes them to bench/results/portal_load.json.

Before any load it checks the seeding was done: every enquiry in the store and in the
search index, every account present. It exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from crm_bridge.config.loader import load_config
from crm_bridge.portal.accounts import UserRole, create_user
from crm_bridge.routing import Router
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import enquiries, users

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"
# Like a real caseload: recent enquiries are mostly still open, old ones answered and closed
# (a few stale ones stay open, and those are the overdue ones the dashboard puts first).
RECENT = (["in_progress"] * 30 + ["sent"] * 20 + ["acknowledged"] * 15 + ["logged"] * 5
          + ["responded"] * 20 + ["closed"] * 10)
OLD = ["closed"] * 85 + ["responded"] * 14 + ["in_progress"]
WORDS = ("pothole", "light", "bin", "noise", "damp", "bench", "gate", "school", "road", "park")
STREETS = ("Main Street", "Mill Lane", "Station Road", "Park Street", "High Street",
           "Ochil Street", "Bridge Street", "Church Road", "Hill Street", "Castle Road")


def seed(root: Path, count: int) -> Path:
    """A council folder whose store holds ``count`` enquiries and a portal account per member."""
    config_path = root / "config.yaml"
    shutil.copy(REPO / "config.example.yaml", config_path)
    shutil.copytree(REPO / "mappings", root / "mappings")
    loaded = load_config(config_path)
    config = loaded.config
    router = Router(config)
    engine = make_engine(loaded.store_url)
    upgrade(engine)
    rng = random.Random(6)
    now = datetime.now(UTC)
    wards = {m: w.id for w in config.wards for m in w.members}
    members = [(m.id, wards.get(m.id)) for m in config.members]
    categories = [(c.id, router.service_for(c.id, None).id) for c in config.categories]
    batch: list[dict[str, Any]] = []
    started = time.perf_counter()
    # Oldest first, as a real store fills up: the table's order follows the date received.
    ages = sorted((rng.random() * 730 for _ in range(count)), reverse=True)
    with engine.begin() as conn:
        for number, age in enumerate(ages, start=1):
            member_id, ward_id = rng.choice(members)
            category_id, service_id = rng.choice(categories)
            received = now - timedelta(days=age)
            target = received.date() + timedelta(days=14)
            age_days = (now - received).days
            status = rng.choice(RECENT if age_days < 45 else OLD)
            answered = closed = None
            if status in ("responded", "closed"):
                answered = min(now, received + timedelta(days=rng.uniform(0.5, 25)))
                if status == "closed":
                    closed = min(now, answered + timedelta(days=rng.uniform(0, 5)))
            street = rng.choice(STREETS)
            batch.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "reference": f"ENQ-{received.year}-{number:06d}", "member_id": member_id,
                "logged_by": "bench", "channel": "surgery",
                "constituent_name": f"Person {number}",
                "constituent_postcode": f"FK{rng.randint(10, 14)} {rng.randint(1, 9)}AB",
                "constituent_email": None, "constituent_address": None,
                "constituent_phone": None, "constituent_uprn": None,
                "consent_to_share": rng.random() < 0.6, "consent_recorded_by": "bench",
                "consent_recorded_at": received, "category_id": category_id,
                "service_id": service_id, "ward_id": ward_id,
                "description": f"{rng.choice(WORDS)} problem near {street}, case {number}",
                "location": f"{rng.randint(1, 99)} {street}", "received_at": received,
                "target_date": target, "warning_date": target - timedelta(days=2),
                "status": status, "crm_ref": None,
                "response": "Done." if answered else None, "responded_at": answered,
                "response_arrived_at": answered, "closed_at": closed,
                "overdue": status not in ("closed", "responded") and target < date.today(),
                "failure_reason": None, "extension_days": 0, "created_at": received,
                "updated_at": received,
            })
            if len(batch) == 5000:
                conn.execute(enquiries.insert(), batch)
                batch = []
        if batch:
            conn.execute(enquiries.insert(), batch)
        for member in config.members:
            create_user(conn, config, member.id, UserRole.MEMBER, None, member.id, PASSWORD, now)
        create_user(conn, config, "staff", UserRole.STAFF, None, None, PASSWORD, now)
    try:
        check_seeded(engine, count, len(config.members) + 1)
    finally:
        engine.dispose()
    print(f"seeded {count} enquiries in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return config_path


def check_seeded(engine: Any, count: int, accounts: int) -> None:
    """The store holds what the load is meant to run over, searchable, before any timing."""
    with engine.connect() as conn:
        found = {
            "enquiries": conn.execute(select(func.count()).select_from(enquiries)).scalar_one(),
            "search index rows": conn.execute(
                text("SELECT count(*) FROM enquiries_fts_docsize")).scalar_one(),
            "accounts": conn.execute(select(func.count()).select_from(users)).scalar_one(),
        }
    wanted = {"enquiries": count, "search index rows": count, "accounts": accounts}
    if found != wanted:
        raise SystemExit(f"seeding went wrong: found {found}, wanted {wanted}")


# --- the load generator (its own process) ------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to the portal; just enough HTTP for this test."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        try:
            return await self._request(method, path, headers, body)
        except (ConnectionError, IndexError):  # the server closed an idle keep-alive
            await self.close()
            return await self._request(method, path, headers, body)

    async def _request(self, method: str, path: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        got: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "set-cookie":
                got.setdefault("set-cookie", "")
                got["set-cookie"] += value.strip() + "\n"
            else:
                got[name.lower()] = value.strip()
        data = await self.reader.readexactly(int(got.get("content-length", "0")))
        return status, got, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
            self.writer = None


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for line in headers.get("set-cookie", "").splitlines():
        if line.startswith(name + "="):
            return line.split(";")[0].split("=", 1)[1]
    return None


async def sign_in(conn: Connection, username: str) -> str:
    _, headers, page = await conn.request("GET", "/sign-in", {})
    pre = _cookie(headers, "crm_bridge_pre")
    token = page.split(b'name="csrf_token" value="')[1][:64].decode()
    body = f"csrf_token={token}&username={username}&password={PASSWORD.replace(' ', '+')}"
    status, headers, _ = await conn.request(
        "POST", "/sign-in", {"Cookie": f"crm_bridge_pre={pre}",
                             "Content-Type": "application/x-www-form-urlencoded"}, body.encode())
    session = _cookie(headers, "crm_bridge_session")
    assert status == 303 and session, f"sign-in failed for {username}: {status}"
    _, _, form = await conn.request("GET", "/search", {"Cookie": f"crm_bridge_session={session}"})
    csrf = form.split(b'name="csrf_token" value="')[1][:64].decode()
    return f"{session} {csrf}"  # the session cookie, and its token for posted forms


def statistics_path(rng: random.Random) -> str:
    """The statistics page as people use it: this year, a half year, a service."""
    year = date.today().year
    choice = rng.random()
    if choice < 0.5:
        return "/statistics"
    if choice < 0.8:
        return f"/statistics?period={year - 1}H{rng.randint(1, 2)}"
    return f"/statistics?period={year}&service={rng.choice(['roads', 'waste', 'housing-repairs'])}"


def search_path(rng: random.Random, member: str | None) -> str:
    """A mix of what members search for: words, a category, a status, a date range (the
    search form's fields, posted; the results' page 2 for the category)."""
    choice = rng.random()
    if choice < 0.4:
        return f"q={rng.choice(WORDS)}"
    if choice < 0.6:
        return f"q={rng.choice(STREETS).split()[0]}&status=in_progress"
    if choice < 0.8:
        return f"category={rng.choice(['pothole', 'noise', 'missed-bin'])}&page=2"
    start = date.today() - timedelta(days=rng.randint(30, 700))
    return f"from={start}&to={start + timedelta(days=30)}" + (
        f"&member={member}" if member else "")


async def search_request(conn: Connection, cookie: dict[str, str], csrf: str,
                         fields: str) -> tuple[int, str]:
    """The search as a browser does it: the form posted (the words in the body), then the
    results at the address it answers with (by token); the status of the results page."""
    form, _, page = fields.partition("&page=")
    status, headers, _ = await conn.request(
        "POST", "/search", {**cookie, "Content-Type": "application/x-www-form-urlencoded"},
        f"csrf_token={csrf}&{form}".encode())
    if status != 303:
        return status, f"POST /search {form}"
    location = headers["location"] + (f"&page={page}" if page else "")
    status, _, _ = await conn.request("GET", location, cookie)
    return status, location


async def client(index: int, conn: Connection, session: str, username: str, until: float,
                 pace: float, results: dict[str, list[float]], failed: dict[str, int],
                 errors: list[str]) -> None:
    rng = random.Random(index)
    member = None if username == "staff" else username
    if pace:  # people do not all click at the same instant: start at a random point
        await asyncio.sleep(rng.uniform(0, pace))  # in the first interval, not in one burst
    while time.perf_counter() < until:
        pick = rng.random()
        if pick < 0.45:
            path, page = "/", "dashboard"
        elif pick < 0.9:
            path, page = search_path(rng, member), "search"
        else:
            path, page = statistics_path(rng), "statistics"
        started = time.perf_counter()
        answered = False
        cookie = {"Cookie": f"crm_bridge_session={session.split()[0]}"}
        try:
            if page == "search":
                status, path = await search_request(conn, cookie, session.split()[1], path)
            else:
                status, _, _ = await conn.request("GET", path, cookie)
            answered = status == 200
            if not answered:
                errors.append(f"{status} {path}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors.append(f"{type(exc).__name__} {path}")
            await conn.close()
        elapsed = time.perf_counter() - started
        if answered:  # a fast error page must not flatter the latencies
            results[page].append(elapsed * 1000)
        else:
            failed[page] += 1
        if pace:
            await asyncio.sleep(max(0.0, rng.expovariate(1 / pace) - elapsed))


async def run_load(host: str, port: int, users: list[str], clients: int, seconds: float,
                   pace: float) -> dict[str, Any]:
    conns = [Connection(host, port) for _ in range(clients)]
    names = [users[i % len(users)] for i in range(clients)]
    sessions = [await sign_in(conn, name) for conn, name in zip(conns, names, strict=True)]
    for conn, session in zip(conns, sessions, strict=True):  # warm up each connection
        await conn.request("GET", "/", {"Cookie": f"crm_bridge_session={session.split()[0]}"})
    results: dict[str, list[float]] = {"dashboard": [], "search": [], "statistics": []}
    failed = dict.fromkeys(results, 0)
    errors: list[str] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client(i, conn, session, name, until, pace, results, failed, errors)
                           for i, (conn, session, name)
                           in enumerate(zip(conns, sessions, names, strict=True))))
    took = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    summary: dict[str, Any] = {"clients": clients, "seconds": round(took, 1),
                               "pace_s": pace, "errors": len(errors),
                               "error_examples": errors[:5]}
    for page, times in results.items():
        ordered = sorted(times)
        summary[page] = {
            "requests": len(ordered),
            "failed": failed[page],
            "rps": round(len(ordered) / took, 1),
            "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1) if ordered else None,
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1) if ordered else None,
            "max_ms": round(ordered[-1], 1) if ordered else None,
        }
    return summary


def loadgen_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pace", type=float, default=0)
    args = parser.parse_args(argv)
    summary = asyncio.run(run_load("127.0.0.1", args.port, args.users.split(","), args.clients,
                                   args.seconds, args.pace))
    print(json.dumps(summary))


# --- the driver ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the portal exited before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the portal did not start in 60s")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        config = seed(Path(tmp), args.enquiries)
        members = [line.split(":", 1)[1].strip() for line in config.read_text().splitlines()
                   if line.strip().startswith("- id: cllr-")]
        port = _free_port()
        env = {**os.environ, "CRM_BRIDGE_SESSION_SECRET": "b" * 40}
        env.pop("CRM_BRIDGE_CONFIG", None)
        crm_bridge = str(Path(sys.executable).parent / "crm-bridge")
        server = subprocess.Popen([crm_bridge, "--config", str(config), "serve", "--port",
                                   str(port), "--workers", str(args.workers)], env=env)
        try:
            _wait_for(port, server)
            report: dict[str, Any] = {"enquiries": args.enquiries, "workers": args.workers,
                                      "load_average_before": os.getloadavg()}
            users = ",".join([*members, "staff"])
            runs = (("one_client", 1, 0.0), ("closed_loop", args.clients, 0.0),
                    ("paced_1_per_s", args.clients, 1.0))
            for name, clients, pace in runs:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.portal_load", "loadgen", "--port", str(port),
                     "--users", users, "--clients", str(clients), "--seconds",
                     str(args.seconds), "--pace", str(pace)],
                    check=False, capture_output=True, text=True, cwd=REPO)
                if out.returncode:
                    raise SystemExit(f"the load generator failed:\n{out.stderr}")
                report[name] = json.loads(out.stdout)
                print(f"{name}: " + json.dumps(report[name], indent=1))
        finally:
            server.terminate()
            server.wait(timeout=30)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "portal_load.json").write_text(json.dumps(report, indent=2) + "\n")
    failures = sum(report[name]["errors"] for name in ("one_client", "closed_loop",
                                                      "paced_1_per_s"))
    if failures:
        print(f"FAILED: {failures} requests were not answered 200 (see error_examples); "
              "the latencies above leave them out", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
