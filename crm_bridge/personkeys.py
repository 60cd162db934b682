"""A constituent's details reduced to keys that compare as people write them.

The same person is written "Jean Paterson", "PATERSON, Jean" and "Mrs J. Paterson"; their
phone "01259 123456", "+44 1259 123456" and "(0044) 1259-123456"; their postcode "fk10 1eb"
and "FK101EB". These keys are stored beside the details (migration 0015, indexed) so search
and the constituent's history find them with an index instead of reading every row. They
are personal data: written when an enquiry is stored or corrected, removed with the details.

- ``email_key``: trimmed, lower case;
- ``phone_key``: the digits, a +44 / 0044 country code read as the leading 0;
- ``name_key``: the name's words lower case, accents and punctuation gone, titles dropped,
  sorted (so the order they were written in does not matter);
- ``postcode_key``: compact upper case ("FK101EB"), and ``outcode_key`` its outward code;
- ``name_sound``: each name word's Soundex code, sorted: search's candidates for a small
  misspelling ("Patterson" and "Paterson" are both P362).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NO_KEYS",
    "PersonKeys",
    "email_key",
    "keys_of",
    "name_key",
    "name_words",
    "outcode_of",
    "phone_key",
    "postcode_key",
    "soundex",
]

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "prof", "sir", "dame",
                     "lady", "lord", "cllr"})
_NOT_LETTERS = re.compile(r"[^a-z0-9]+")
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
MIN_PHONE_DIGITS = 6


def email_key(value: str | None) -> str | None:
    key = (value or "").strip().lower()
    return key if "@" in key else None


def phone_key(value: str | None) -> str | None:
    """UK numbers in any common format; None when fewer than six digits were given."""
    digits = re.sub(r"\D", "", (value or "").replace("(0)", ""))
    if digits.startswith("0044"):
        digits = digits[4:]
    elif digits.startswith("44") and len(digits) >= 12:
        digits = digits[2:]
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return "0" + digits.lstrip("0")


def name_words(value: str | None) -> list[str]:
    """The name's words: lower case, no accents, apostrophes joined ("O'Neil": "oneil"),
    other punctuation a break, titles and single initials kept (initials are words too)."""
    folded = unicodedata.normalize("NFKD", value or "")
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    plain = re.sub(r"['’`]", "", plain)
    return [w for w in _NOT_LETTERS.sub(" ", plain).split() if w not in _TITLES]


def name_key(value: str | None) -> str | None:
    words = name_words(value)
    return " ".join(sorted(words)) if words else None


def postcode_key(value: str | None) -> str | None:
    compact = re.sub(r"\s+", "", value or "").upper()
    return compact if _POSTCODE.fullmatch(compact) else None


def outcode_of(key: str | None) -> str | None:
    return key[:-3] if key else None


_SOUNDEX = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"),
            **dict.fromkeys("dt", "3"), "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


def soundex(word: str) -> str:
    """American Soundex ("paterson", "patterson": P362); digits are their own code."""
    letters = [ch for ch in word.lower() if ch.isalpha()]
    if not letters:
        return word.upper()
    code, last = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for ch in letters[1:]:
        digit = _SOUNDEX.get(ch, "")
        if digit and digit != last:
            code += digit
        if ch not in "hw":  # h and w do not separate two letters of the same code
            last = digit
    return (code + "000")[:4]


@dataclass(frozen=True)
class PersonKeys:
    email_key: str | None
    phone_key: str | None
    name_key: str | None
    postcode_key: str | None
    outcode_key: str | None
    name_sound: str | None

    def columns(self) -> dict[str, Any]:
        return {"email_key": self.email_key, "phone_key": self.phone_key,
                "name_key": self.name_key, "postcode_key": self.postcode_key,
                "outcode_key": self.outcode_key, "name_sound": self.name_sound}


NO_KEYS = PersonKeys(None, None, None, None, None, None)


def keys_of(name: str | None, email: str | None, phone: str | None,
            postcode: str | None) -> PersonKeys:
    """The keys for one constituent's details (the enquiries table's key columns)."""
    words = name_words(name)
    sounds = sorted({soundex(w) for w in words if len(w) > 1})
    postcode = postcode_key(postcode)
    return PersonKeys(email_key(email), phone_key(phone), name_key(name), postcode,
                      outcode_of(postcode), " ".join(sounds) or None)
