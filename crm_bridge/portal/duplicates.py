"""Possible duplicates as the portal shows them: the same issue, from the duplicate service
(crm_bridge/duplicates/: same ward or place, same or related category, recent, similar
text; each with a score and its reasons), and the same person by an exact rule (the same
postcode and normalised name, at any time).

Only enquiries the user may see are shown; a councillor's ward colleagues' same-issue
matches that they may not see are counted, with no details, so they know to ask members'
services to link them. Other controllers' casework (an MP's, say, filed in the ward) is not
even counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.duplicates import Facts, Match
from crm_bridge.duplicates import find_duplicates as same_issue
from crm_bridge.places import normalise
from crm_bridge.portal.policy import Principal, can_view
from crm_bridge.portal.queries import Row, rows_where
from crm_bridge.store.tables import enquiries

__all__ = ["Duplicates", "find_duplicates", "normalise"]

_c = enquiries.c


@dataclass
class Duplicates:
    same_issue: list[Match] = field(default_factory=list)  # best first, with reasons
    same_person: list[Row] = field(default_factory=list)
    hidden: int = 0  # ward colleagues' matches that this user may not see

    @property
    def any(self) -> bool:
        return bool(self.same_issue or self.same_person or self.hidden)

    def ids(self) -> list[str]:
        return [m.row.id for m in self.same_issue] + [row.id for row in self.same_person]


def find_duplicates(
    conn: Connection, who: Principal, draft: Facts | None, settings: DuplicateSettings, *,
    name: str | None, postcode: str | None, exclude: str | None = None,
    relative_to_now: bool = True,
) -> Duplicates:
    """``draft`` None: no category yet, so only the same person (``name`` at ``postcode``)
    is looked for."""
    found = Duplicates()
    seen: set[str] = {exclude} if exclude else set()
    if draft is not None:
        issue = same_issue(conn, who, draft, settings, exclude=exclude,
                           relative_to_now=relative_to_now)
        found.same_issue, found.hidden = issue.matches, issue.hidden
        seen.update(issue.ids())
    postcode = _postcode(postcode)
    person = normalise(name)
    if postcode and person:
        for row in rows_where(conn, _c.constituent_postcode == postcode,
                              (_c.received_at.desc(),), 200):
            if row.id in seen or normalise(row.constituent_name) != person:
                continue
            seen.add(row.id)
            if can_view(who, row.member_id, row.ward_id, row.consent_to_share):
                found.same_person.append(row)
    found.same_person = found.same_person[:10]
    return found


def _postcode(value: str | None) -> str | None:
    postcode = (value or "").strip().upper() or None
    if postcode and " " not in postcode and len(postcode) > 4:
        postcode = f"{postcode[:-3]} {postcode[-3:]}"
    return postcode
