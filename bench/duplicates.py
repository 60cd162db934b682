"""The duplicate check over a large store, beside a brute-force rapidfuzz scan of the same data.

    python -m bench.duplicates [--enquiries 1000000] [--checks 300] [--pinned 0.2] [--json]

Setup (not timed): a council folder from the example config, a SQLite store at head in a
temporary folder, and ``--enquiries`` enquiries written in bulk (``executemany``), received
evenly over the ten years to ``NOW`` across the example's members, in its categories as
often as the demo council gets them, each about a place in the member's ward: the demo's
towns, streets and landmarks plus 40 made-up streets a town, described with the demo's
wording; ``--pinned`` of them (a share) have a map pin for a location instead, a
'latitude, longitude' point anywhere in a square of 2 km around their ward's centre, with
the store's ``latitude`` and ``longitude`` written as intake writes them. The search
index's insert trigger is dropped first (the check never reads it). Then ``--checks`` new
enquiries are made: a third of them planted duplicates (an enquiry of the last month,
reworded as a ward colleague's constituent would raise it; pinned up to 30 m from the
original's pin when it has one), the rest new problems at random places, ``--pinned`` of
them pinned.

Timed: each check through the service (``crm_bridge.duplicates.find_duplicates``, as a
members' services account sees it), with the text caches emptied before each one so no
check is helped by the one before; wall-clock time, and the process's CPU time beside it
(on a shared machine a check of a millisecond can wait ten for a core: the load average is
printed too). Beside it, for ``--brute`` of the same checks, a scan of
every stored description with ``rapidfuzz.process.extract`` (token-set ratio, the ten
best): the descriptions are read and pre-processed (``utils.default_process``) before the
clock starts, so only the scan is timed. Before printing, the run checks that the service
found every planted duplicate's original; it fails if one was missed.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

from bench.finish import finish
from crm_bridge.places import METRES_PER_DEGREE
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
YEARS = 10
_COLUMNS = ("id", "reference", "member_id", "logged_by", "channel", "constituent_name",
            "constituent_address", "constituent_postcode", "consent_to_share",
            "consent_recorded_by", "consent_recorded_at", "category_id", "service_id",
            "ward_id", "description", "location", "received_at", "target_date",
            "warning_date", "status", "overdue", "extension_days", "created_at", "updated_at",
            "latitude", "longitude")
_PIN_SPAN = 0.009  # degrees of latitude each way from a ward's centre: 1 km
_NAMES = ("Rowan", "Birch", "Hazel", "Larch", "Cedar", "Elm", "Alder", "Willow", "Aspen",
          "Heather", "Bracken", "Thistle", "Forth", "Devon", "Carse", "Kirk", "Mill", "Burn",
          "Glebe", "Manse", "Bruce", "Wallace", "Abbey", "Castle", "Tower", "Priory", "Orchard",
          "Meadow", "Linn", "Craig", "Dunmar", "Gartmorn", "Schaw", "Erskine", "Mar", "Murray")
_KINDS = ("Street", "Road", "Avenue", "Crescent", "Place", "Drive", "Gardens", "Court",
          "Terrace", "Way")
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_LEADS = ("A neighbour has raised this too: ", "Also reported to me: ",
          "Another resident says: ", "Raised again at my surgery: ")


def _council(root: Path) -> Path:
    url = f"sqlite:///{root / 'bridge.db'}"
    source = example_config().read_text(encoding="utf-8")
    (root / "config.yaml").write_text(
        source.replace("url: sqlite:///crm-bridge.db", f"url: {url}"), encoding="utf-8")
    shutil.copytree(shipped_mappings(), root / "mappings")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return root / "config.yaml"


def _centre(ward_index: int) -> tuple[float, float]:
    """A made-up centre for each ward, 3-5 km apart: only the distances matter."""
    return 56.10 + 0.03 * ward_index, -3.85 + 0.05 * ward_index


def _pin(rng: random.Random, centre: tuple[float, float]) -> tuple[float, float]:
    east_span = _PIN_SPAN / math.cos(math.radians(centre[0]))
    return (round(centre[0] + rng.uniform(-_PIN_SPAN, _PIN_SPAN), 6),
            round(centre[1] + rng.uniform(-east_span, east_span), 6))


def _moved(rng: random.Random, point: tuple[float, float], most: float
           ) -> tuple[float, float]:
    """``point`` moved up to ``most`` metres in a random direction."""
    metres, angle = rng.uniform(0, most), rng.uniform(0, 2 * math.pi)
    north = metres * math.cos(angle) / METRES_PER_DEGREE
    east = metres * math.sin(angle) / (METRES_PER_DEGREE * math.cos(math.radians(point[0])))
    return round(point[0] + north, 6), round(point[1] + east, 6)


def _written(point: tuple[float, float]) -> str:
    return f"{point[0]:.6f}, {point[1]:.6f}"


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


class _World:
    """Places and wording, as the demo council's, with more streets to a town."""

    def __init__(self, rng: random.Random) -> None:
        from crm_bridge.demo.places import TOWNS
        from crm_bridge.demo.texts import CATEGORY_TEXTS, GENERIC

        self.towns: dict[str, list[tuple[str, list[str], tuple[str, ...], str]]] = {}
        for town in TOWNS:
            made = [f"{a} {b}" for a, b in ((rng.choice(_NAMES), rng.choice(_KINDS))
                                            for _ in range(40))]
            self.towns.setdefault(town.ward_id, []).append(
                (town.name, list(town.streets) + made, town.landmarks,
                 town.postcode_sectors[0]))
        self.texts = CATEGORY_TEXTS
        self.generic = GENERIC

    def enquiry(self, rng: random.Random, ward_id: str, category_id: str) -> tuple[str, str, str]:
        """(description, location, postcode) of a new problem somewhere in the ward."""
        name, streets, landmarks, sector = rng.choice(self.towns[ward_id])
        street, cross = rng.sample(streets, 2)
        number = rng.randint(1, 120)
        text = self.texts.get(category_id, self.generic)
        description = rng.choice(text.descriptions).format(
            n=number, street=street, cross=cross, landmark=rng.choice(landmarks), town=name)
        location = {"home": f"{number} {street}, {name}",
                    "landmark": f"{rng.choice(landmarks)}, {name}"}.get(
                        text.where, f"{street}, {name}")
        postcode = sector + "".join(rng.choices(_UNIT_LETTERS, k=2))
        return description, location, postcode


def _fill(config_path: Path, count: int, rng: random.Random, world: _World, pinned: float
          ) -> list[dict[str, Any]]:
    """Write ``count`` enquiries, oldest first; return the last month's councillors' ones
    (the originals planted duplicates are made from)."""
    from crm_bridge.app import Bridge
    from crm_bridge.models import Role

    bridge = Bridge.open(config_path)
    config = bridge.config
    members = [(m.id, m.role is Role.COUNCILLOR, config.ward_of(m.id)) for m in config.members]
    wards = [w.id for w in config.wards]
    categories = list(config.categories)
    weights = [world.texts.get(c.id, world.generic).weight for c in categories]
    first = NOW - timedelta(days=365 * YEARS)
    span = (NOW - first).total_seconds()
    recent: list[dict[str, Any]] = []
    raw = bridge.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP TRIGGER IF EXISTS enquiries_fts_insert")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-400000")  # 400 MB: the indexes stay in memory
        marks = ", ".join("?" for _ in _COLUMNS)
        insert = f"INSERT INTO enquiries ({', '.join(_COLUMNS)}) VALUES ({marks})"
        batch: list[tuple[Any, ...]] = []
        for i in range(count):
            received = first + timedelta(seconds=span * (i + rng.random()) / count)
            member_id, councillor, ward = rng.choice(members)
            ward_id = ward.id if ward else rng.choice(wards)
            category = rng.choices(categories, weights=weights, k=1)[0]
            description, location, postcode = world.enquiry(rng, ward_id, category.id)
            point = (_pin(rng, _centre(wards.index(ward_id))) if rng.random() < pinned
                     else None)
            if point is not None:
                location = _written(point)
            target = received.date() + timedelta(days=14)
            consent = rng.random() < 0.7
            row = (str(uuid.UUID(int=rng.getrandbits(128))), f"ENQ-{i:09d}", member_id,
                   "bench", "surgery", f"Person {i}", f"{rng.randint(1, 99)} Somewhere",
                   postcode, consent, "bench", received, category.id,
                   category.ward_services.get(ward_id, category.service), ward_id, description,
                   location, received, target, target, "in_progress", False, 0, received,
                   received, *(point or (None, None)))
            batch.append(tuple(_value(v) for v in row))
            if councillor and NOW - received < timedelta(days=30):
                recent.append({"id": row[0], "reference": row[1], "ward_id": ward_id,
                               "category_id": category.id, "description": description,
                               "location": location, "point": point})
            if len(batch) == 50_000:
                cursor.executemany(insert, batch)
                batch = []
        if batch:
            cursor.executemany(insert, batch)
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        bridge.close()
    return recent


def _clear_caches() -> None:
    from crm_bridge import places
    from crm_bridge.duplicates import compare

    for cached in (places.normalise, places.streets, places.locality, places.place_words,
                   places.coordinates,
                   compare.problem_words):
        cached.cache_clear()


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--brute", type=int, default=20,
                        help="how many of the checks the brute-force scan times")
    parser.add_argument("--pinned", type=float, default=0.2,
                        help="share of stored and new enquiries located by a map pin")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 0 <= args.pinned <= 1:
        parser.error("--pinned: a share from 0 to 1")
    root = Path(tempfile.mkdtemp(prefix="duplicates-bench-"))
    try:
        return _run(root, args.enquiries, args.checks, args.brute, args.pinned, args.json)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(root: Path, count: int, checks: int, brute: int, pinned: float, as_json: bool
         ) -> int:
    from sqlalchemy import text

    from crm_bridge.access.policy import UserRole, principal_for
    from crm_bridge.app import Bridge
    from crm_bridge.duplicates import Facts, find_duplicates
    from crm_bridge.duplicates.candidates import candidates
    from crm_bridge.duplicates.compare import place_needed

    rng = random.Random(13)
    world = _World(rng)
    config_path = _council(root)
    started = time.perf_counter()
    recent = _fill(config_path, count, rng, world, pinned)
    fill_seconds = time.perf_counter() - started
    bridge = Bridge.open(config_path)
    config, settings = bridge.config, bridge.config.duplicates
    staff = principal_for(config, user_id=1, username="office", name="Office",
                          role=UserRole.STAFF, member_id=None, staff_group=None,
                          session_id="bench")
    planted = rng.sample(recent, min(len(recent), checks // 3))
    drafts: list[tuple[Facts, str | None]] = [
        (Facts(o["category_id"], o["ward_id"], rng.choice(_LEADS) + o["description"], NOW,
               _written(_moved(rng, o["point"], 30)) if o["point"] else o["location"]),
         o["reference"]) for o in planted]
    categories = list(config.categories)
    wards = [w.id for w in config.wards]
    while len(drafts) < checks:
        ward_id = rng.choice(wards)
        category = rng.choice(categories).id
        description, location, _postcode = world.enquiry(rng, ward_id, category)
        if rng.random() < pinned:
            location = _written(_pin(rng, _centre(wards.index(ward_id))))
        drafts.append((Facts(category, ward_id, description, NOW, location), None))
    rng.shuffle(drafts)
    point_timings: list[float] = []
    timings: list[float] = []
    cpu: list[float] = []
    read: list[int] = []
    missed: list[str] = []
    matches = 0
    with bridge.engine.connect() as conn:
        for draft, _ in drafts[:10]:  # warm the store's pages, untimed
            find_duplicates(conn, staff, draft, settings)
        for draft, original in drafts:
            _clear_caches()
            begun, begun_cpu = time.perf_counter(), time.process_time()
            found = find_duplicates(conn, staff, draft, settings)
            timings.append(time.perf_counter() - begun)
            cpu.append(time.process_time() - begun_cpu)
            if draft.point is not None:
                point_timings.append(timings[-1])
            matches += len(found.matches)
            if original is not None and original not in {m.row.reference for m in found.matches}:
                missed.append(original)
            related = {draft.category_id, *settings.related(draft.category_id)}
            read.append(len(candidates(conn, draft, related, settings.window_days, None,
                                       place_needed(settings), settings.distance_metres)))
        rows = conn.execute(text("SELECT description FROM enquiries")).scalars().all()
        held = conn.execute(text("SELECT count(*) FROM enquiries WHERE latitude IS NOT NULL"
                                 )).scalar_one()
    bridge.close()
    choices = [utils.default_process(d) for d in rows]
    del rows
    scans: list[float] = []
    for draft, _ in drafts[:brute]:
        query = utils.default_process(draft.description)
        begun = time.perf_counter()
        process.extract(query, choices, scorer=fuzz.token_set_ratio, processor=None, limit=10)
        scans.append(time.perf_counter() - begun)
    problems = [f"the planted duplicate {ref} was not found" for ref in missed]
    if pinned and not (held and point_timings):
        problems.append(f"--pinned {pinned}: {held} stored pins, {len(point_timings)} "
                        "pinned checks (both must be some)")
    if len(choices) != count:
        problems.append(f"the scan read {len(choices)} descriptions, not {count}")
    service_p95 = _p(timings, 0.95) * 1000
    brute_p95 = _p(scans, 0.95) * 1000
    result = {
        "enquiries": count,
        "fill_seconds": round(fill_seconds, 1),
        "checks": len(timings),
        "planted_found": f"{len(planted) - len(missed)} of {len(planted)}",
        "matches_listed_mean": round(matches / len(timings), 1),
        "rows_compared_mean": round(statistics.mean(read), 1),
        "rows_compared_p95": _p([float(n) for n in read], 0.95),
        "service_p50_ms": round(_p(timings, 0.5) * 1000, 2),
        "service_p95_ms": round(service_p95, 2),
        "service_max_ms": round(max(timings) * 1000, 2),
        "service_cpu_p95_ms": round(_p(cpu, 0.95) * 1000, 2),
        "pinned_stored": held,
        "pinned_checks": len(point_timings),
        "pinned_p95_ms": round(_p(point_timings, 0.95) * 1000, 2) if point_timings else None,
        "brute_checks": len(scans),
        "brute_p50_ms": round(_p(scans, 0.5) * 1000, 1),
        "brute_p95_ms": round(brute_p95, 1),
        "p95_ratio_brute_to_service": round(brute_p95 / service_p95, 1),
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    return finish(result, problems, as_json, 28)


if __name__ == "__main__":
    sys.exit(main())
