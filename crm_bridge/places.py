"""Places as people write them, compared: the duplicate check and the reports' hot spots
both use ``normalise`` so 'Main St.' and 'main street' are the same place.

``streets`` and ``locality`` pick a location apart for the duplicate check: 'outside the
Co-op, 23 Main St, Sauchie' names the street 'main street' in the locality 'sauchie'.
A location written as a 'latitude, longitude' pair (``coordinates``) is a point: the
Open311 connector sends it as lat/long, and the duplicate check measures between points.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["LAT_LONG", "STREET_WORDS", "coordinates", "locality", "metres_apart", "normalise",
           "place_words", "point_columns", "spellings", "streets"]

LAT_LONG = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
"""A whole location that is 'latitude, longitude' in decimal degrees ('56.1533, -3.7990')."""
_EARTH_METRES = 6_371_008.8  # mean radius
METRES_PER_DEGREE = _EARTH_METRES * math.pi / 180  # of latitude (and of longitude at 0°)

_WORDS = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def coordinates(location: str | None) -> tuple[float, float] | None:
    """The point a location is, when it is written as 'latitude, longitude' within range;
    None for a street, a landmark or anything else."""
    pair = LAT_LONG.match(location or "")
    if pair is None:
        return None
    latitude, longitude = float(pair[1]), float(pair[2])
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return latitude, longitude


def point_columns(location: str | None) -> dict[str, float | None]:
    """The enquiries table's ``latitude`` and ``longitude`` for a location."""
    point = coordinates(location)
    return {"latitude": point[0] if point else None, "longitude": point[1] if point else None}


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance between two points on the ground (haversine; metres)."""
    lat_a, lat_b = math.radians(a[0]), math.radians(b[0])
    half = (math.sin((lat_b - lat_a) / 2) ** 2
            + math.cos(lat_a) * math.cos(lat_b) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2)
    return 2 * _EARTH_METRES * math.asin(min(1.0, math.sqrt(half)))
_PARTS = re.compile(r"[,;:()/]")
_DIGIT = re.compile(r"[0-9]")
_ABBREVIATIONS = {"st": "street", "rd": "road", "ave": "avenue", "av": "avenue",
                  "dr": "drive", "cres": "crescent", "pl": "place", "sq": "square",
                  "ln": "lane", "ct": "court", "gdns": "gardens", "ter": "terrace",
                  "terr": "terrace", "cl": "close", "gro": "grove", "gr": "grove",
                  "pk": "park", "hwy": "highway", "bldgs": "buildings", "brg": "bridge"}

STREET_WORDS = frozenset({
    "street", "road", "avenue", "drive", "crescent", "place", "square", "lane", "court",
    "gardens", "terrace", "close", "grove", "way", "wynd", "brae", "loan", "row", "walk",
    "view", "park", "highway", "path", "green", "circle", "gate", "hill", "rise", "vennel",
})
"""Words that end a street's name ('Ochil Road', 'Holton Crescent', 'Kirk Wynd')."""

# Words that introduce a place rather than name it: 'outside the shop on Main Street'.
_FILLER = frozenset({"the", "on", "at", "of", "in", "by", "near", "outside", "opposite",
                     "behind", "beside", "junction", "corner", "and", "to", "from", "off",
                     "end", "top", "bottom", "side", "back", "front", "number", "no",
                     "flat", "house", "between", "past", "along", "up", "down"})


@lru_cache(maxsize=4096)
def normalise(text: str | None) -> str:
    """Lower case, punctuation and extra spaces gone, common street abbreviations spelt out
    ('St' first, as in 'St Serf's', is 'saint')."""
    if not text:
        return ""
    words = _WORDS.sub(" ", text.lower()).split()
    out = [_ABBREVIATIONS.get(word, word) for word in words]
    if len(words) > 1 and words[0] == "st":
        out[0] = "saint"
    return " ".join(out)


# A street word before these is part of a thing, not a street's name: 'street lights'.
_COMPOUNDS = frozenset({"light", "lights", "lamp", "lamps", "lighting", "surface", "sign",
                        "signs", "name", "works", "sweeper", "sweeping", "cleaning", "bench",
                        "benches", "area", "keeper", "ranger"})
_NOT_AFTER_A_STREET = STREET_WORDS | _COMPOUNDS
_NOT_A_TOWN = STREET_WORDS | _FILLER


def _street_ends(words: list[str]) -> list[int]:
    # A street word preceded by a name ('main street'), not by filler ('the park').
    return [i for i, word in enumerate(words) if word in STREET_WORDS and i > 0
            and words[i - 1] not in _FILLER and not words[i - 1].isdigit()
            and not (i + 1 < len(words) and words[i + 1] in _NOT_AFTER_A_STREET)]


@lru_cache(maxsize=4096)
def streets(text: str | None) -> frozenset[str]:
    """The streets a location names, each as its name's last word or two and the street
    word: '12 Main St' and 'the Co-op, Main Street' both give {'main street'}. A comma,
    semicolon or bracket ends a name ('the school, Main St' is not 'school main street')."""
    found: set[str] = set()
    for part in _PARTS.split(text or ""):
        words = normalise(part).split()
        for end in _street_ends(words):
            start = end - 1
            if start > 0 and words[start - 1] not in _FILLER and words[start - 1].isalpha() \
                    and words[start - 1] not in STREET_WORDS:
                start -= 1  # a two-word name: 'ochil view road', 'green square'
            found.add(" ".join(words[start:end + 1]))
    return frozenset(found)


@lru_cache(maxsize=4096)
def locality(text: str | None) -> str:
    """The town a location ends with, after a comma ('Stirling Street, Alva' gives 'alva'):
    one word, as a landmark after the comma ('Main Street, opposite the Co-op') is not a
    town; empty when there is none (a postcode at the end is passed over)."""
    parts = [p for p in (normalise(part) for part in (text or "").split(",")) if p]
    while parts and _DIGIT.search(parts[-1]):
        parts.pop()  # a postcode
    if len(parts) < 2 or len(parts[-1].split()) > 1 or parts[-1] in _NOT_A_TOWN:
        return ""
    return parts[-1]


@lru_cache(maxsize=4096)
def place_words(text: str | None) -> frozenset[str]:
    """The words that name a place, not its kind or town: 'outside Delph Pond, Tullibody'
    gives {'delph', 'pond'}; 'the Co-op, 14 Main St' gives {'main'} (no filler, street words,
    numbers, town or word shorter than three letters)."""
    town = locality(text)
    return frozenset(w for w in normalise(text).split()
                     if len(w) >= 3 and w not in _FILLER and w not in STREET_WORDS
                     and w != town and w.isalpha())


_SHORT = {long: short for short, long in _ABBREVIATIONS.items()}


def spellings(text: str, most: int = 4) -> list[str]:
    """``text`` as typed, then with its street words abbreviated or spelt out ('ochil rd':
    also 'ochil road'), lower case, at most ``most`` spellings: search matches any."""
    words = _WORDS.sub(" ", text.lower()).split()
    found = [" ".join(words)]
    for i, word in enumerate(words):
        other = _ABBREVIATIONS.get(word) or _SHORT.get(word)
        if other:
            found += [" ".join([*s.split()[:i], other, *s.split()[i + 1:]]) for s in found]
    typed = " ".join(text.lower().split())
    return list(dict.fromkeys(f for f in [typed, *found] if f))[:most]
