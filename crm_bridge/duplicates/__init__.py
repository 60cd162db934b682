"""Possible duplicates: the same issue raised with more than one member.

``find_duplicates(conn, viewer, facts, settings) -> Found`` is the one service the CLI,
the JSON API and the portal use; ``compare.judge`` decides one pair (score and reasons in
words); ``candidates`` reads what is worth comparing. docs/duplicates.md explains the
scoring and how its defaults were chosen.
"""

from __future__ import annotations

from crm_bridge.duplicates.compare import Facts, Verdict, judge
from crm_bridge.duplicates.service import Found, Match, facts_of, find_duplicates

__all__ = ["Facts", "Found", "Match", "Verdict", "facts_of", "find_duplicates", "judge"]
