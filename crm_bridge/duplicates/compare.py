"""One enquiry against another: are they the same issue, how sure, and why, in words.

Pure functions, no database, so the labelled pairs (tests/support/duplicate_pairs.py) and the
service judge exactly alike. An enquiry is a candidate when it is in the same ward or at the
same place (the same UPRN; the same postcode and street; two points, locations written as
'latitude, longitude', within ``distance_metres``), in the same or a related category,
received within ``window_days``. A candidate's score (0-100) is mostly how alike the two
descriptions are (rapidfuzz's token-set ratio over normalised text), then how sure the place
is the same, then how close in time; a related category counts a little less than the same
one. It is a match when the score reaches ``threshold`` and the text is at least
``min_text_similarity`` alike, so a different problem on the same street is not one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from rapidfuzz import fuzz

from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.places import coordinates, locality, metres_apart, normalise, place_words, streets

__all__ = ["Facts", "Verdict", "judge", "place_needed", "problem_words", "text_similarity"]

# Weights of text, place and time in the score, and the discount for a related category:
# chosen on the labelled pairs (docs/duplicates.md).
_TEXT, _PLACE, _TIME = 0.50, 0.35, 0.15
_RELATED = 0.9


@dataclass(frozen=True)
class Facts:
    """What the check compares of an enquiry (or of one being typed)."""

    category_id: str
    ward_id: str | None
    description: str
    received_at: datetime
    location: str | None = None
    address: str | None = None
    postcode: str | None = None
    uprn: str | None = None

    @property
    def point(self) -> tuple[float, float] | None:
        """Where it is, when its location is written as 'latitude, longitude'."""
        return coordinates(self.location)


@dataclass(frozen=True)
class Verdict:
    score: int  # 0-100
    text: int  # how alike the descriptions are, 0-100
    reasons: tuple[str, ...]  # 'same street', 'related category', '4 days ago', '86% similar text'
    is_match: bool

    @property
    def words(self) -> str:
        return ", ".join(self.reasons)


_STOP = frozenset({
    "a", "an", "the", "and", "or", "but", "of", "on", "in", "at", "to", "for", "from", "by",
    "with", "near", "outside", "opposite", "is", "are", "was", "were", "be", "been", "has",
    "have", "had", "it", "its", "this", "that", "there", "their", "they", "them", "our", "my",
    "we", "i", "he", "she", "his", "her", "me", "us", "you", "your", "again", "still", "very",
    "all", "up", "down", "off", "over", "out", "into", "as", "so", "not", "no", "number",
    "says", "asks", "said"})


@lru_cache(maxsize=4096)
def problem_words(text: str) -> str:
    """A description without the places it names, numbers and small words: what the
    problem is ('street light out on Holton Crescent' gives 'street light')."""
    words = normalise(text)
    for street in streets(text):
        words = words.replace(street, " ")
    return " ".join(w for w in words.split() if w not in _STOP and w.isalpha())


def text_similarity(a: str, b: str) -> int:
    """How alike two problems are, 0-100, whatever their order, case, abbreviations and the
    places named."""
    return round(fuzz.token_set_ratio(problem_words(a), problem_words(b)))


def place_needed(settings: DuplicateSettings) -> bool:
    """Whether only a candidate at the same place can reach the threshold: the text and the
    time together (both perfect) score less. Then the store is asked only for enquiries
    that share a place's name, a postcode or a UPRN with the new one."""
    return settings.threshold > round(100 * (_TEXT + _TIME))


def _postcode(value: str | None) -> str:
    return (value or "").replace(" ", "").upper()


def _same_street(ours: frozenset[str], theirs: frozenset[str]) -> bool:
    """One street in both, allowing a slip of the pen ('Beauclerc St', 'Beauclerk Street')."""
    return bool(ours & theirs) or any(fuzz.ratio(a, b) >= 90 for a in ours for b in theirs)


def _apart(new: Facts, old: Facts) -> float | None:
    """Metres between the two, when both locations are points."""
    here, there = new.point, old.point
    return None if here is None or there is None else metres_apart(here, there)


def _place(new: Facts, old: Facts, distance_metres: int) -> tuple[float, str | None]:
    """How sure the two are about one place (0-1), and the words for it."""
    if new.uprn and new.uprn == old.uprn:
        return 1.0, "same property"
    same_postcode = bool(_postcode(new.postcode)) and _postcode(new.postcode) == _postcode(
        old.postcode)
    apart = _apart(new, old)
    if apart is not None:  # two points: the distance decides, whatever the text names and
        # wherever the constituents live (neighbours report different lamps)
        return (0.9, f"{round(apart)} m apart") if apart <= distance_metres else (0.0, None)
    here, there = new.location or new.address, old.location or old.address
    town_a, town_b = locality(here), locality(there)
    if town_a and town_b and town_a != town_b:
        return (0.5, "same postcode") if same_postcode else (0.0, None)
    if _same_street(streets(here) | streets(new.description),
                    streets(there) | streets(old.description)):
        return (1.0, "same postcode and street") if same_postcode else (0.85, "same street")
    words_a, words_b = place_words(here), place_words(there)
    if words_a and words_b and fuzz.token_set_ratio(
            " ".join(sorted(words_a)), " ".join(sorted(words_b))) >= 90:
        return 0.8, "same place"
    if same_postcode:
        return 0.5, "same postcode"
    return 0.0, None


def _when(new: Facts, old: Facts, relative_to_now: bool) -> tuple[int, str]:
    days = (new.received_at.date() - old.received_at.date()).days
    if relative_to_now:
        if days == 0:
            return 0, "today"
        if days == 1:
            return 1, "yesterday"
        return abs(days), f"{days} days ago" if days > 0 else f"in {-days} days"
    if days == 0:
        return 0, "same day"
    unit = "day" if abs(days) == 1 else "days"
    return abs(days), f"{abs(days)} {unit} {'earlier' if days > 0 else 'later'}"


def _nearby(new: Facts, old: Facts, distance_metres: int) -> bool:
    """A candidate at all: the same ward, property or postcode, or two points close by."""
    if new.ward_id is not None and new.ward_id == old.ward_id:
        return True
    if (new.uprn and new.uprn == old.uprn) or (
            _postcode(new.postcode) and _postcode(new.postcode) == _postcode(old.postcode)):
        return True
    apart = _apart(new, old)
    return apart is not None and apart <= distance_metres


def judge(new: Facts, old: Facts, settings: DuplicateSettings,
          relative_to_now: bool = True) -> Verdict | None:
    """``old`` as a possible duplicate of ``new``; None when it is not even a candidate.
    ``relative_to_now``: ``new`` is being logged now ('4 days ago'), not a stored one
    ('4 days earlier')."""
    if old.category_id == new.category_id:
        category, category_words = 1.0, "same category"
    elif old.category_id in settings.related(new.category_id):
        category, category_words = _RELATED, "related category"
    else:
        return None
    days, when_words = _when(new, old, relative_to_now)
    if days > settings.window_days:
        return None
    if not _nearby(new, old, settings.distance_metres):
        return None  # another ward, and not at the same property, postcode or point
    text = text_similarity(new.description, old.description)
    if text >= settings.min_text_similarity:
        place, where_words = _place(new, old, settings.distance_metres)
    else:  # not a match whatever the place: the (slower) place comparison is skipped
        place, where_words = 0.0, "place not compared"
    closeness = 1 - days / settings.window_days
    score = round(100 * category * (_TEXT * text / 100 + _PLACE * place + _TIME * closeness))
    reasons = [where_words or "same ward", category_words, when_words,
               f"{text}% similar text"]
    return Verdict(score, text, tuple(reasons),
                   score >= settings.threshold and text >= settings.min_text_similarity)
