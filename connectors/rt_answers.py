"""What Request Tracker's REST 2.0 answers, as the bridge reads it: pydantic models of only
the fields the bridge uses (RT sends many more), so a surprise in RT's JSON is caught where
it arrives (``connectors/rt_client.py`` validates every answer against these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AttachmentInfo",
    "AttachmentRow",
    "Created",
    "CustomFieldInfo",
    "CustomFieldValues",
    "Info",
    "Link",
    "QueueInfo",
    "Ref",
    "Ticket",
    "TicketRow",
    "Txn",
]


# -- what RT answers (only the fields the bridge reads; RT sends many more) --------------------


class _Rt(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True,
                              coerce_numbers_to_str=True)


class Ref(_Rt):
    """A link to another record: RT gives ids as numbers in some places and strings in others."""

    id: str
    type: str | None = None
    url: str | None = Field(default=None, alias="_url")


class Link(_Rt):
    ref: str
    type: str | None = None


class Created(_Rt):
    id: str


class Info(_Rt):
    version: str = Field(alias="Version")


class CustomFieldValues(_Rt):
    id: str
    name: str
    values: list[str] = Field(default_factory=list)


class TicketRow(_Rt):
    """A search result with the fields the bridge asks for."""

    id: str
    last_updated: datetime = Field(alias="LastUpdated")
    status: str = Field(alias="Status")
    created: datetime | None = Field(default=None, alias="Created")
    creator: Ref | None = Field(default=None, alias="Creator")
    last_updated_by: Ref | None = Field(default=None, alias="LastUpdatedBy")
    custom_fields: list[CustomFieldValues] = Field(default_factory=list, alias="CustomFields")
    requestors: list[Ref] = Field(default_factory=list, alias="Requestor")

    def cf(self, name: str) -> str | None:
        return _cf(self.custom_fields, name)


class Ticket(TicketRow):
    subject: str = Field(alias="Subject")
    queue: Ref = Field(alias="Queue")
    hyperlinks: list[Link] = Field(default_factory=list, alias="_hyperlinks")

    def may(self, action: str) -> bool:
        """RT lists the 'comment' (or 'correspond') link only when the caller holds the right."""
        return any(link.ref == action for link in self.hyperlinks)


class Txn(_Rt):
    """A transaction: one change in a ticket's history."""

    id: str
    type: str = Field(alias="Type")
    created: datetime = Field(alias="Created")
    creator: Ref = Field(alias="Creator")
    field: str = Field(default="", alias="Field")
    old_value: str | None = Field(default=None, alias="OldValue")
    new_value: str | None = Field(default=None, alias="NewValue")


class AttachmentRow(_Rt):
    id: str
    filename: str = Field(default="", alias="Filename")
    content_type: str = Field(default="", alias="ContentType")
    subject: str = Field(default="", alias="Subject")
    transaction_id: str = Field(default="", alias="TransactionId")

    @field_validator("transaction_id", mode="before")
    @classmethod
    def _id_of_link(cls, value: Any) -> Any:
        """RT 5.0 gives the bare id; a link object ({"id": ...}) is taken too."""
        return value.get("id", "") if isinstance(value, dict) else value


class AttachmentInfo(AttachmentRow):
    content: str = Field(default="", alias="Content")  # base64 of the stored bytes
    headers: str = Field(default="", alias="Headers")


class QueueInfo(_Rt):
    id: str
    name: str = Field(alias="Name")
    lifecycle: str = Field(default="default", alias="Lifecycle")
    disabled: str = Field(default="0", alias="Disabled")
    ticket_custom_fields: list[CustomFieldValues] = Field(
        default_factory=list, alias="TicketCustomFields")
    hyperlinks: list[Link] = Field(default_factory=list, alias="_hyperlinks")

    def custom_field_names(self) -> set[str]:
        return {cf.name for cf in self.ticket_custom_fields}

    def can_create_tickets(self) -> bool:
        """RT lists the 'create ticket' link only when the caller may create tickets here."""
        return any(link.ref == "create" and link.type == "ticket" for link in self.hyperlinks)


class CustomFieldInfo(_Rt):
    id: str
    name: str = Field(alias="Name")
    type: str = Field(default="", alias="Type")
    lookup_type: str = Field(default="", alias="LookupType")
    disabled: str = Field(default="0", alias="Disabled")


class _Page(_Rt):
    """RT leaves ``pages`` and ``total`` null when it would have to check rights on every
    match to count them (any account but a superuser), so paging follows the items."""

    items: list[dict[str, Any]]
    page: int = 1
    pages: float | None = None
    next_page: str | None = None


class _Problem(_Rt):
    message: str = ""


def _cf(values: list[CustomFieldValues], name: str) -> str | None:
    for cf in values:
        if cf.name == name and cf.values:
            return cf.values[0]
    return None
