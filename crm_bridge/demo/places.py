"""The demo council's geography and people: towns, streets, landmarks, postcodes, names.

Modelled on Clackmannanshire (the example config): each town sits in one of
the example's five wards, so a councillor's enquiries are about places in
their own ward. Streets and towns are real; every person is made up, and
phone numbers are from Ofcom's range kept for drama (07700 900xxx).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["TOWNS", "Person", "Place", "Town", "make_person", "pick_place", "towns_in"]


@dataclass(frozen=True)
class Town:
    name: str
    ward_id: str
    postcode_sectors: tuple[str, ...]  # outward code and sector digit, e.g. "FK10 1"
    streets: tuple[str, ...]
    landmarks: tuple[str, ...]


TOWNS: tuple[Town, ...] = (
    Town("Alloa", "clacks-west", ("FK10 1", "FK10 2"),
         ("Tullibody Road", "Grange Road", "Claremont", "Hilton Road", "Bowhouse Road",
          "Ashley Terrace"),
         ("Alloa Park", "the Gean House grounds", "the Ochil View play park")),
    Town("Tullibody", "clacks-west", ("FK10 2",),
         ("Menstrie Road", "Stirling Road", "Delph Road", "Abercromby Place", "Alloa Road",
          "Banchory Place"),
         ("Delph Pond", "the Tullibody civic centre", "St Serf's church path")),
    Town("Cambus", "clacks-west", ("FK10 2",),
         ("Station Road", "Riverside", "Cambus Road"),
         ("the River Devon footpath",)),
    Town("Alva", "clacks-north", ("FK12 5",),
         ("Stirling Street", "Brook Street", "Ochil Road", "Beauclerc Street", "Queen Street",
          "Green Square"),
         ("Johnstone Park", "the Alva Glen car park", "Cochrane Park")),
    Town("Tillicoultry", "clacks-north", ("FK13 6",),
         ("High Street", "Stirling Street", "Moss Road", "Ochil Street", "Frederick Street",
          "Dollar Road"),
         ("Tillicoultry Glen", "the Sterling Mills car park", "Fir Park")),
    Town("Menstrie", "clacks-north", ("FK11 7",),
         ("Main Street East", "Main Street West", "Ochil Road", "Park Road", "Dumyat Road"),
         ("the Menstrie Castle green", "Menstrie Glen path")),
    Town("Sauchie", "clacks-central", ("FK10 3",),
         ("Main Street", "Fairfield Road", "Rosebank Avenue", "Holton Crescent",
          "Mar Place"),
         ("the Sauchie Tower path", "the Sauchie community centre", "Fairfield Park")),
    Town("Fishcross", "clacks-central", ("FK10 3",),
         ("Devon Road", "Alva Road", "Gartmorn Road"),
         ("the Gartmorn Dam car park",)),
    Town("Alloa", "clacks-central", ("FK10 1", "FK10 3"),
         ("Drysdale Street", "Mar Street", "Bedford Place", "Primrose Street",
          "Greenside Street", "Carsebridge Road"),
         ("the Speirs Centre car park", "the West End Park", "the bus station")),
    Town("Alloa", "clacks-south", ("FK10 1", "FK10 2"),
         ("Whins Road", "Shillinghill", "Ludgate", "Glebe Terrace", "Broad Street",
          "Kelliebank"),
         ("the Ochilview Park", "the Alloa Academy playing fields")),
    Town("Clackmannan", "clacks-south", ("FK10 4",),
         ("Main Street", "North Street", "Port Street", "Lochies Road", "Craigrie Road",
          "Alloa Road"),
         ("the Tower Hill", "King's Seat park", "the Clackmannan Town Hall car park")),
    Town("Dollar", "clacks-east", ("FK14 7",),
         ("Bridge Street", "West Burnside", "East Burnside", "McNabb Street", "Station Road",
          "Hillfoot Road"),
         ("Dollar Park", "the Dollar Burn path", "the Castle Campbell road")),
    Town("Muckhart", "clacks-east", ("FK14 7",),
         ("Pool of Muckhart", "Yetts o' Muckhart road"),
         ("the village hall",)),
    Town("Kennet", "clacks-east", ("FK10 4",),
         ("Kennet Village", "Kilbagie Road"),
         ("the Kennet play area",)),
)

FIRST_NAMES = (
    "Agnes", "Alan", "Alison", "Andrew", "Ann", "Barry", "Brian", "Calum", "Carol",
    "Catherine", "Colin", "Craig", "David", "Derek", "Donna", "Eilidh", "Elaine", "Euan",
    "Fiona", "Gary", "George", "Gillian", "Graham", "Heather", "Helen", "Irene", "Isla",
    "Jamie", "Janet", "Jean", "John", "Karen", "Kenneth", "Kirsty", "Lesley", "Linda",
    "Lorraine", "Margaret", "Mark", "Martin", "Mary", "Mhairi", "Moira", "Nicola", "Paul",
    "Robert", "Ross", "Ruth", "Sandra", "Scott", "Stewart", "Susan", "Thomas", "William",
    "Yvonne",
)
SURNAMES = (
    "Anderson", "Brown", "Buchanan", "Cameron", "Campbell", "Christie", "Cunningham",
    "Docherty", "Donaldson", "Duncan", "Ferguson", "Fraser", "Gibson", "Graham", "Hamilton",
    "Henderson", "Hunter", "Johnstone", "Kerr", "Laing", "Lindsay", "MacDonald", "MacKenzie",
    "McIntosh", "McLean", "Millar", "Mitchell", "Morrison", "Muir", "Murray", "Paterson",
    "Reid", "Robertson", "Ross", "Scott", "Shearer", "Sinclair", "Smith", "Stewart",
    "Thomson", "Walker", "Wallace", "Watson", "Wilson", "Young",
)
# Postcode units never use these letters in the last two places.
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class Place:
    town: Town
    street: str
    cross_street: str
    landmark: str
    number: int
    postcode: str


@dataclass(frozen=True)
class Person:
    name: str
    address: str
    postcode: str
    email: str | None
    phone: str | None


def towns_in(ward_id: str | None) -> list[Town]:
    """The towns of ``ward_id``; every town for a member with no ward (an MP or MSP)."""
    found = [t for t in TOWNS if t.ward_id == ward_id]
    return found or list(TOWNS)


def _postcode(rng: random.Random, town: Town) -> str:
    sector = rng.choice(town.postcode_sectors)
    return f"{sector}{rng.choice(_UNIT_LETTERS)}{rng.choice(_UNIT_LETTERS)}"


def pick_place(rng: random.Random, ward_id: str | None) -> Place:
    town = rng.choice(towns_in(ward_id))
    street = rng.choice(town.streets)
    others = [s for s in town.streets if s != street] or [street]
    return Place(town, street, rng.choice(others), rng.choice(town.landmarks),
                 rng.randint(1, 120), _postcode(rng, town))


def make_person(rng: random.Random, place: Place, at_the_place: bool) -> Person:
    """A fictional constituent; they live at ``place`` when the issue is their own home."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    home = place if at_the_place else pick_place(rng, place.town.ward_id)
    email = None
    if rng.random() < 0.6:
        domain = rng.choice(("example.com", "example.net", "example.org"))
        email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}"
    phone = f"07700 900{rng.randint(0, 999):03d}" if rng.random() < 0.55 else None
    return Person(f"{first} {last}", f"{home.number} {home.street}, {home.town.name}",
                  home.postcode, email, phone)
