"""Places as people write them, compared: the duplicate check and the reports' hot spots
both use ``normalise`` so 'Main St.' and 'main street' are the same place."""

from __future__ import annotations

import re

__all__ = ["normalise"]

_WORDS = re.compile(r"[^a-z0-9]+")
_ABBREVIATIONS = {"st": "street", "rd": "road", "ave": "avenue", "dr": "drive", "cres": "crescent",
                  "pl": "place", "sq": "square", "ln": "lane", "ct": "court", "gdns": "gardens"}


def normalise(text: str | None) -> str:
    """Lower case, punctuation and extra spaces gone, common street abbreviations spelt out."""
    if not text:
        return ""
    words = _WORDS.sub(" ", text.lower()).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)
