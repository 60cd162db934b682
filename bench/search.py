"""Search latency at scale: p50 / p95 / max per kind of query over 1,000,000 enquiries.

    python -m bench.search [--enquiries 1000000] [--queries 40] [--store PATH] [--json]

What it does:
1. makes a SQLite store at head (or reuses ``--store`` if it already holds ``--enquiries``
   rows, so a second run skips the seeding) and inserts the enquiries in bulk, straight into
   the table with their person keys (as ``enquiry_row`` writes them) and through the
   full-text index's triggers: constituents drawn from 300 first names and 600 surnames
   (no surname a Soundex twin of another's misspelling in the queries), 40 outward codes,
   ~200 streets written with and without their abbreviation, e-mails and phones in mixed
   formats;
2. picks ``--queries`` target enquiries and, for each, types what a member would: its
   postcode without the space, its outward code and the first inward digit, its e-mail in
   capitals, its phone in another format, its street abbreviated, the name reversed, and
   the name with the surname misspelt (a doubled letter);
3. runs each as ``crm_bridge.portal.finder.search`` does for the portal (page 1 of 25),
   alternately as members' services staff (every councillor) and as a councillor (own,
   ward-shared), in-process on one connection;
4. checks every query found what it was typed from (the target ranked first for the
   postcode, e-mail and phone, and the reversed name; a match of the right kind first for
   the others) before printing anything; a query that found nothing is a problem (exit 1).

The floor covers the SQL (indexes, full-text probe, per-scope queries), the ranking and the
rapidfuzz scoring; it leaves out HTTP, the page's rendering and the audit rows the portal
writes (bench/portal_load.py measures whole pages). SQLite only: on PostgreSQL the word and
name kinds are ILIKE scans (no trigram index).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, text

from bench.finish import finish
from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.config.loader import load_config
from crm_bridge.personkeys import keys_of, name_key, phone_key, postcode_key, soundex
from crm_bridge.places import normalise
from crm_bridge.portal.finder import search
from crm_bridge.routing import Router
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import EnquiryFilter
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import enquiries

REPO = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Europe/London")
KINDS = ("postcode", "partial postcode", "email", "phone", "street abbreviation",
         "reversed name", "misspelt name")
_SYLLABLES = ("ba", "ca", "da", "fi", "go", "hu", "ke", "lo", "ma", "ne", "ri", "sa", "te",
              "vi", "wo", "ly", "bro", "cra", "dru", "fle", "gri", "ple", "stra", "tho")
_ENDINGS = ("son", "ton", "ley", "man", "well", "more", "wick", "ford", "by", "ie")
_SUFFIXES = (("Road", "Rd"), ("Street", "St"), ("Avenue", "Ave"), ("Drive", "Dr"),
             ("Crescent", "Cres"), ("Place", "Pl"), ("Gardens", "Gdns"), ("Lane", "Ln"))
_UNIT = "ABDEFGHJLNPQRSTUWXYZ"
_WORDS = ("pothole", "light out", "bins missed", "noise at night", "damp in the flat",
          "broken bench", "gate left open", "school crossing", "flooded road", "park litter")


def _names(rng: random.Random, count: int, ending: bool) -> list[str]:
    made: set[str] = set()
    while len(made) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 2)))
        made.add((word + rng.choice(_ENDINGS) if ending else word + rng.choice("nae")).title())
    return sorted(made)


def _phone_formats(digits: str, rng: random.Random) -> str:
    """Six digits after 01259, written one of the ways people write them."""
    return rng.choice((f"01259 {digits}", f"01259{digits}", f"+44 1259 {digits}",
                       f"(01259) {digits[:3]} {digits[3:]}", f"0044 1259-{digits}"))


def seed(engine: Any, config: Any, count: int, rng: random.Random) -> None:
    router = Router(config)
    firsts, surnames = _names(rng, 300, False), _names(rng, 600, True)
    streets = [f"{n} {s}" for n in _names(rng, 25, False) for s, _ in _SUFFIXES]
    outcodes = [f"FK{n}" for n in range(1, 21)] + [f"G{n}" for n in range(60, 80)]
    wards = {m: w.id for w in config.wards for m in w.members}
    members = [(m.id, wards.get(m.id)) for m in config.members]
    categories = [(c.id, router.service_for(c.id, None).id) for c in config.categories]
    now = datetime.now(UTC)
    ages = sorted((rng.random() * 1500 for _ in range(count)), reverse=True)
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for number, age in enumerate(ages, start=1):
            member_id, ward_id = rng.choice(members)
            category_id, service_id = rng.choice(categories)
            received = now - timedelta(days=age)
            first, last = rng.choice(firsts), rng.choice(surnames)
            street = rng.choice(streets)
            long, short = next(p for p in _SUFFIXES if street.endswith(p[0]))
            written = street if rng.random() < 0.7 else street[:-len(long)] + short
            postcode = (f"{rng.choice(outcodes)} {rng.randint(0, 9)}"
                        f"{rng.choice(_UNIT)}{rng.choice(_UNIT)}")
            email = f"{first}.{last}{number}@example.com".lower() if rng.random() < 0.6 else None
            phone = (_phone_formats(f"{rng.randint(0, 999999):06d}", rng)
                     if rng.random() < 0.5 else None)
            name = f"{first} {last}"
            address = f"{rng.randint(1, 120)} {written}"
            target = received.date() + timedelta(days=14)
            batch.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "reference": f"ENQ-{received.year}-{number:07d}"[:20], "member_id": member_id,
                "logged_by": "bench", "channel": "surgery", "constituent_name": name,
                "constituent_postcode": postcode, "constituent_email": email,
                "constituent_address": address, "constituent_phone": phone,
                "constituent_uprn": None, "consent_to_share": rng.random() < 0.6,
                "consent_recorded_by": "bench", "consent_recorded_at": received,
                "category_id": category_id, "service_id": service_id, "ward_id": ward_id,
                "description": f"{rng.choice(_WORDS)} near {street}",
                "location": written if rng.random() < 0.5 else None,
                "received_at": received, "target_date": target,
                "warning_date": target - timedelta(days=2),
                "status": "closed" if age > 60 else "in_progress", "crm_ref": None,
                "response": None, "responded_at": None, "closed_at": None,
                "overdue": False, "failure_reason": None, "extension_days": 0,
                "created_at": received, "updated_at": received,
                **keys_of(name, email, phone, postcode).columns(),
            })
            if len(batch) == 5000:
                conn.execute(enquiries.insert(), batch)
                batch = []
                if number % 100_000 == 0:
                    print(f"  {number} enquiries", file=sys.stderr)
        if batch:
            conn.execute(enquiries.insert(), batch)


def _misspelt(surname: str) -> str:
    """The surname with one consonant doubled (Paterson: Patterson), same Soundex code."""
    for i in range(1, len(surname) - 1):
        vowels_around = surname[i - 1] in "aeiouy" and surname[i + 1] in "aeiouy"
        if surname[i] in "bcdfglmnprst" and vowels_around:
            return surname[:i] + surname[i] + surname[i:]
    return surname + surname[-1]


def queries_for(row: Any) -> dict[str, tuple[str, Callable[[Any], bool]]]:
    """What a member would type to find ``row``, and how to tell the first result is right."""
    first, last = row.constituent_name.split()
    street = " ".join((row.constituent_address.split(" ", 1)[1]).split())
    long = street.rsplit(" ", 1)[1]
    short = next((s for lg, s in _SUFFIXES if lg == long), long)
    abbreviated = street.rsplit(" ", 1)[0] + " " + short.lower()
    outward, inward = row.constituent_postcode.split()
    misspelt = _misspelt(last.lower())
    place = normalise(street)
    return {
        "postcode": (row.constituent_postcode.replace(" ", "").lower(),
                     lambda hit: hit.id == row.id or hit.postcode_key == postcode_key(
                         row.constituent_postcode)),
        "partial postcode": (f"{outward.lower()} {inward[0]}",
                             lambda hit: (hit.postcode_key or "").startswith(
                                 outward + inward[0])),
        "email": ((row.constituent_email or "").upper(), lambda hit: hit.id == row.id),
        "phone": (phone_key(row.constituent_phone) or "",
                  lambda hit: hit.phone_key == phone_key(row.constituent_phone)),
        "street abbreviation": (abbreviated, lambda hit: place in normalise(
            f"{hit.location or ''} {hit.constituent_address or ''}")),
        "reversed name": (f"{last} {first}".lower(),
                          lambda hit: hit.name_key == name_key(row.constituent_name)),
        "misspelt name": (f"{first} {misspelt.title()}",
                          lambda hit: soundex(misspelt) in (hit.name_sound or "")
                          and first.lower() in (hit.name_key or "")),
    }


def _phone_other_format(key: str) -> str:
    return "+44 " + key[1:5] + " " + key[5:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enquiries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=40, help="targets (queries per kind)")
    parser.add_argument("--store", type=Path, help="a SQLite file to make or reuse")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.enquiries < 1000 or args.queries < 1:
        parser.error("--enquiries must be at least 1000 and --queries at least 1")
    root = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        shutil.copy(REPO / "config.example.yaml", root / "config.yaml")
        shutil.copytree(REPO / "mappings", root / "mappings")
        loaded = load_config(root / "config.yaml")
        url = f"sqlite:///{args.store}" if args.store else loaded.store_url
        engine = make_engine(url)
        upgrade(engine)
        rng = random.Random(13)
        with engine.connect() as conn:
            held = int(conn.execute(select(func.count()).select_from(enquiries)).scalar_one())
        if held not in (0, args.enquiries):
            sys.exit(f"--store holds {held} enquiries, not --enquiries {args.enquiries}: "
                     "give another file")
        started = time.perf_counter()
        if held == 0:
            seed(engine, loaded.config, args.enquiries, rng)
        seeded = time.perf_counter() - started
        sys.exit(_measure(engine, loaded.config, args, seeded))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(engine: Any, config: Any, args: argparse.Namespace, seeded: float) -> int:
    problems: list[str] = []
    with engine.connect() as conn:
        indexed = int(conn.execute(text("SELECT count(*) FROM enquiries_fts")).scalar_one())
        if indexed != args.enquiries:
            problems.append(f"the search index holds {indexed} rows, not {args.enquiries}")
        staff = principal_for(config, user_id=1, username="staff", name="Staff",
                              role=UserRole.STAFF, member_id=None, staff_group=None,
                              session_id="s")
        targets = conn.execute(
            select(enquiries.c.id, enquiries.c.member_id, enquiries.c.constituent_name,
                   enquiries.c.constituent_postcode, enquiries.c.constituent_email,
                   enquiries.c.constituent_phone, enquiries.c.constituent_address,
                   enquiries.c.location)
            .where(enquiries.c.constituent_email.is_not(None),
                   enquiries.c.constituent_phone.is_not(None),
                   enquiries.c.member_id.in_(sorted(staff.scope)))  # the staff may see it
            .order_by(enquiries.c.id).limit(args.queries)).all()
        timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for number, target in enumerate(targets):
            member = principal_for(config, user_id=2, username="m", name="M",
                                   role=UserRole.MEMBER, member_id=target.member_id,
                                   staff_group=None, session_id="s")
            who: Principal = staff if number % 2 == 0 else member
            for kind, (typed, right) in queries_for(target).items():
                if kind == "phone":
                    typed = _phone_other_format(typed)
                began = time.perf_counter()
                rows, _total = search(conn, who, EnquiryFilter(text=typed), 1, 25, ZONE)
                timings[kind].append((time.perf_counter() - began) * 1000)
                problems += _check(conn, kind, typed, rows, right)
    result: dict[str, Any] = {"enquiries": args.enquiries, "targets": len(targets),
                              "seeding_s": round(seeded, 1)}
    for kind, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
        result[f"{kind} ms p50/p95/max"] = (f"{statistics.median(ordered):.1f} / "
                                            f"{p95:.1f} / {ordered[-1]:.1f}")
    every = sorted(v for values in timings.values() for v in values)
    result["all kinds ms p95"] = round(every[round(0.95 * len(every)) - 1], 1)
    return finish(result, problems, args.json, 36, most=20)


def _check(conn: Connection, kind: str, typed: str, rows: list[Any],
           right: Callable[[Any], bool]) -> list[str]:
    if not rows:
        return [f"{kind}: '{typed}' found nothing"]
    c = enquiries.c
    first = conn.execute(select(c.id, c.postcode_key, c.phone_key, c.name_key, c.name_sound,
                                c.location, c.constituent_address)
                         .where(c.id == rows[0].id)).one()
    return [] if right(first) else [f"{kind}: '{typed}' ranked {rows[0].reference} first "
                                    f"({first.location!r}, {first.constituent_address!r})"]


if __name__ == "__main__":
    main()
