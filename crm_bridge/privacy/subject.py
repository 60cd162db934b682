"""Finding one constituent's enquiries for a subject access, rectification or erasure request:
by e-mail address, by phone number, or by name and postcode together.

Matching is deliberately plain (case-insensitive e-mail, phone digits with +44 read as 0,
postcode normalised, name case- and space-insensitive) so staff can predict what it finds;
each enquiry found says which detail matched, for them to check before acting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import Connection, func, select

from crm_bridge.errors import InputError
from crm_bridge.models import Constituent
from crm_bridge.store.tables import enquiries

__all__ = ["Match", "Subject", "find_enquiries", "phone_digits"]


def phone_digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return "0" + digits[2:] if digits.startswith("44") else digits


def _name_key(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class Subject:
    """Who the request is about; built by ``of``, which refuses a request too vague to act on."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    postcode: str | None = None

    @classmethod
    def of(cls, email: str | None, phone: str | None, name: str | None,
           postcode: str | None) -> Subject:
        email, phone, name, postcode = (v.strip() if v and v.strip() else None
                                        for v in (email, phone, name, postcode))
        if name and not postcode:
            raise InputError("--postcode", "give the postcode with --name (a name alone "
                             "could match someone else)")
        if postcode and not name:
            raise InputError("--name", "give the name with --postcode (a postcode alone "
                             "covers many households)")
        if not (email or phone or name):
            raise InputError("--email", "say whose data: --email, --phone, or --name with "
                             "--postcode")
        try:
            checked = Constituent(name=name or "x", email=email, postcode=postcode)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise InputError(f"--{error['loc'][0]}",
                             error["msg"].removeprefix("Value error, ")) from None
        if phone is not None and len(phone_digits(phone)) < 6:
            raise InputError("--phone", "must be a phone number of at least 6 digits")
        return cls(email=email, phone=phone, name=name, postcode=checked.postcode)

    def describe(self) -> str:
        """Which kinds of detail were given (never the values: this goes in the audit log)."""
        kinds = [k for k, v in (("e-mail", self.email), ("phone", self.phone),
                                ("name and postcode", self.name)) if v]
        return " or ".join(kinds)


@dataclass
class Match:
    id: str
    reference: str
    matched_by: list[str] = field(default_factory=list)


def find_enquiries(conn: Connection, subject: Subject) -> list[Match]:
    """The enquiries holding the subject's details, oldest first."""
    c = enquiries.c
    found: dict[str, Match] = {}

    def add(rows: object, how: str) -> None:
        for row in rows:  # type: ignore[attr-defined]
            found.setdefault(row.id, Match(row.id, row.reference)).matched_by.append(how)

    if subject.email:
        add(conn.execute(select(c.id, c.reference).where(
            func.lower(c.constituent_email) == subject.email.lower())), "email")
    if subject.phone:
        wanted = phone_digits(subject.phone)
        add([row for row in conn.execute(select(c.id, c.reference, c.constituent_phone)
                                         .where(c.constituent_phone.is_not(None)))
             if phone_digits(row.constituent_phone) == wanted], "phone")
    if subject.name and subject.postcode:
        wanted_name = _name_key(subject.name)
        add([row for row in conn.execute(select(c.id, c.reference, c.constituent_name)
                                         .where(c.constituent_postcode == subject.postcode))
             if _name_key(row.constituent_name) == wanted_name], "name and postcode")
    return sorted(found.values(), key=lambda m: m.reference)
