"""'Did you mean …?' for ids typed by hand."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "unknown"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'lighting'?)`` or, with no close match, the list of valid choices."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (choose from: {', '.join(options)})" if options else ""


def unknown(kind: str, word: str, choices: Iterable[str]) -> str:
    return f"unknown {kind} '{word}'{did_you_mean(word, choices)}"
