"""Places as people write them, compared: the duplicate check and the reports' hot spots
both use ``normalise`` so 'Main St.' and 'main street' are the same place."""

from __future__ import annotations

import re

__all__ = ["normalise", "spellings"]

_WORDS = re.compile(r"[^a-z0-9]+")
_ABBREVIATIONS = {"st": "street", "rd": "road", "ave": "avenue", "dr": "drive", "cres": "crescent",
                  "pl": "place", "sq": "square", "ln": "lane", "ct": "court", "gdns": "gardens"}


def normalise(text: str | None) -> str:
    """Lower case, punctuation and extra spaces gone, common street abbreviations spelt out."""
    if not text:
        return ""
    words = _WORDS.sub(" ", text.lower()).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


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
