"""Other people's data kept out of a subject access export.

Enquiries are linked as duplicates across constituents, and texts (a response, a history
line) may name the other enquiry or its constituent. Every detail of every enquiry linked
to the subject's, that is not the subject's own, is replaced wherever it appears. Free text
can still name people the bridge does not know about (a neighbour in a description): the
export says so, for the person who sends it to read it first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, or_, select

from crm_bridge.privacy.scrub import REMOVED, chunks
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["REDACTED", "Redactor", "third_party_terms"]

REDACTED = "[another person's details withheld]"
_MIN_LENGTH = 4  # shorter strings ("Al") would blank ordinary words


def third_party_terms(conn: Connection, own_ids: Iterable[str]) -> set[str]:
    """The details of the enquiries linked to ``own_ids`` that are not among them."""
    own = set(own_ids)
    others: set[str] = set()
    links = enquiry_links.c
    for chunk in chunks(sorted(own)):
        for row in conn.execute(select(links.enquiry_id, links.linked_id).where(
                or_(links.enquiry_id.in_(chunk), links.linked_id.in_(chunk)))):
            others.update({row.enquiry_id, row.linked_id} - own)
    terms: set[str] = set()
    c = enquiries.c
    for chunk in chunks(sorted(others)):
        for found in conn.execute(select(
                c.reference, c.constituent_name, c.constituent_address, c.constituent_postcode,
                c.constituent_email, c.constituent_phone, c.constituent_uprn, c.description,
                c.location).where(c.id.in_(chunk))):
            terms.update(str(v).strip() for v in found if v and str(v).strip() != REMOVED)
    return {t for t in terms if len(t) >= _MIN_LENGTH}


class Redactor:
    """Replaces each term, case-insensitively, in every string of a JSON-like value."""

    def __init__(self, terms: Iterable[str]) -> None:
        ordered = sorted(set(terms), key=len, reverse=True)  # longest first: whole before part
        self._pattern = (re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE)
                         if ordered else None)

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
