"""The duplicate check: the same issue raised with another member, for the CLI
(`crm-bridge enquiry duplicates`), the JSON API, the portal's form and its confirmation page.

Candidates come from the store (``candidates``), are judged by ``compare.judge`` and shown
best first. Who sees what is the access policy's (``crm_bridge.access.policy.can_view``): a
match the viewer may not see is only counted, and only when it is a ward colleague's (so
they know to ask members' services to link it); another controller's casework (an MP's, say)
is not even counted. ``viewer`` None is the CLI operator, who sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from crm_bridge.access.policy import Principal, can_view
from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.duplicates.candidates import Row, candidates
from crm_bridge.duplicates.compare import Facts, Verdict, judge, place_needed
from crm_bridge.models import Enquiry

__all__ = ["Found", "Match", "facts_of", "find_duplicates"]


@dataclass(frozen=True)
class Match:
    row: Row
    verdict: Verdict

    @property
    def score(self) -> int:
        return self.verdict.score

    @property
    def reasons(self) -> str:
        return self.verdict.words


@dataclass
class Found:
    matches: list[Match] = field(default_factory=list)  # best first
    hidden: int = 0  # ward colleagues' matches the viewer may not see (no details)

    def ids(self) -> list[str]:
        return [m.row.id for m in self.matches]


def facts_of(enquiry: Enquiry) -> Facts:
    """A stored enquiry as the check compares it."""
    who = enquiry.constituent
    return Facts(enquiry.category_id, enquiry.ward_id, enquiry.description,
                 enquiry.received_at, enquiry.location, who.address, who.postcode, who.uprn)


def find_duplicates(conn: Connection, viewer: Principal | None, new: Facts,
                    settings: DuplicateSettings, *, exclude: str | None = None,
                    relative_to_now: bool = True) -> Found:
    """Possible duplicates of ``new`` (an enquiry being typed, or a stored one whose id is
    ``exclude``), as ``viewer`` may see them."""
    found = Found()
    categories = {new.category_id, *settings.related(new.category_id)}
    judged: list[Match] = []
    for candidate in candidates(conn, new, categories, settings.window_days, exclude,
                                place_needed(settings), settings.distance_metres):
        verdict = judge(new, candidate.facts, settings, relative_to_now)
        if verdict is not None and verdict.is_match:
            judged.append(Match(candidate.row, verdict))
    judged.sort(key=lambda m: (-m.score, -m.row.received_at.timestamp(), m.row.reference))
    for match in judged:
        row = match.row
        if viewer is None or can_view(viewer, row.member_id, row.ward_id, row.consent_to_share):
            if len(found.matches) < settings.max_matches:
                found.matches.append(match)
        elif row.member_id in viewer.ward_sharers:
            found.hidden += 1
    return found
