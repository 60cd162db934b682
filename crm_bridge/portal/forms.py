"""The new-enquiry form: field names, plain-language error messages, and the draft it makes.

Every problem is collected (not just the first), so the page can show the GOV.UK error
summary with a link to each field. The draft itself is still validated by
``intake.draft_from``: the form only adds friendlier words and the signed-in user's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.intake import EnquiryDraft, draft_from
from crm_bridge.models import Channel, Constituent
from crm_bridge.portal.policy import Principal, can_log_for, consent_question

__all__ = ["CHANNEL_LABELS", "FIELDS", "EnquiryForm", "parse_enquiry_form"]

CHANNEL_LABELS = {
    Channel.SURGERY: "At a surgery",
    Channel.EMAIL: "By email",
    Channel.PHONE: "By phone",
    Channel.LETTER: "By letter",
    Channel.IN_PERSON: "In person, elsewhere",
}

FIELDS = ("member", "category", "name", "postcode", "address", "email", "phone", "description",
          "location", "channel", "consent")

_MISSING = {
    "member": "Select the member the constituent contacted",
    "category": "Select what the enquiry is about",
    "name": "Enter the constituent's name",
    "description": "Enter what the constituent wants the council to do",
    "consent": "Select yes if the constituent agreed to share this enquiry",
    "channel": "Select how the constituent got in touch",
}

_LIMITS = {"name": 200, "postcode": 10, "address": 500, "email": 320, "phone": 40,
           "description": 10_000, "location": 500}


@dataclass
class EnquiryForm:
    """What was typed (to show again), the errors by field, and the draft when all is well."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    draft: EnquiryDraft | None = None


def _field_errors(config: CouncilConfig, who: Principal, values: dict[str, str],
                  errors: dict[str, str]) -> None:
    member = values.get("member", "")
    chosen = config.member(member) if member else None
    if chosen is not None and consent_question(config, chosen.id) is None:
        # Shared with no one: the question is not asked, and a "yes" cannot be honoured.
        if values.get("consent") == "yes":
            errors["consent"] = f"{chosen.name}’s enquiries are shared with no one: select No"
        values["consent"] = values.get("consent") or "no"
    for name, message in _MISSING.items():
        if not values.get(name) and name not in errors:
            errors[name] = message
    for name, limit in _LIMITS.items():
        if len(values.get(name, "")) > limit and name not in errors:
            errors[name] = f"Must be {limit} characters or fewer"
    if member and (config.member(member) is None or not can_log_for(who, member)):
        errors["member"] = "Select a member from the list"
    category = values.get("category", "")
    if category and config.category(category) is None:
        errors["category"] = "Select a category from the list"
    if values.get("consent") not in (None, "", "yes", "no"):
        errors["consent"] = _MISSING["consent"]
    if values.get("channel") and values["channel"] not in {c.value for c in Channel}:
        errors["channel"] = "Select how the constituent got in touch"
    if values.get("postcode") and "postcode" not in errors:
        try:
            Constituent(name="x", postcode=values["postcode"])
        except ValueError:
            errors["postcode"] = "Enter a real postcode, like FK10 1EB"
    if values.get("email") and "email" not in errors:
        try:
            Constituent(name="x", email=values["email"])
        except ValueError:
            errors["email"] = "Enter an email address in the correct format, like name@example.com"


def parse_enquiry_form(form: Mapping[str, Any], config: CouncilConfig,
                       who: Principal) -> EnquiryForm:
    values = {name: str(form.get(name) or "").strip() for name in FIELDS}
    if not who.is_staff and who.member_id:
        values["member"] = who.member_id  # a member logs as themselves, whatever was posted
    result = EnquiryForm(values=values)
    _field_errors(config, who, values, result.errors)
    if result.errors:
        return result
    try:
        result.draft = draft_from({
            "member_id": values["member"], "category_id": values["category"],
            "description": values["description"], "location": values["location"] or None,
            "channel": values["channel"], "consent_to_share": values["consent"] == "yes",
            "logged_by": who.username,
            "constituent": {"name": values["name"], "postcode": values["postcode"] or None,
                            "address": values["address"] or None,
                            "email": values["email"] or None, "phone": values["phone"] or None},
        })
    except InputError as exc:
        result.errors[_form_field(exc.field)] = exc.message[:1].upper() + exc.message[1:]
    return result


def _form_field(draft_field: str) -> str:
    tail = draft_field.rsplit(".", 1)[-1]
    return {"member_id": "member", "category_id": "category", "consent_to_share": "consent",
            "constituent": "name"}.get(tail, tail if tail in FIELDS else "description")
