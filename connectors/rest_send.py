"""What the ``rest`` connector sends: the mapping's templates filled from an enquiry (only
the constituent details the mapping lists) or a note, as JSON bodies and URL parts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from connectors.rest_mapping import placeholders
from connectors.rest_paths import body_key
from crm_bridge.models import Enquiry, ServiceDestination

if TYPE_CHECKING:
    from connectors.rest_mapping import RestMapping

__all__ = ["case_values", "render", "render_body"]


def render(template: str, values: Mapping[str, Any]) -> Any:
    """``template`` filled from ``values``; a lone placeholder keeps its value's type."""
    names = placeholders(template)
    if len(names) == 1 and template == f"{{{names[0]}}}":
        return values.get(names[0])
    return template.format_map({k: "" if v is None else v for k, v in values.items()})


def render_body(templates: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object from ``templates``; a dotted field name makes nested objects (a part in
    single quotes keeps its dots: ``'customerid_account@odata.bind'``)."""
    body: dict[str, Any] = {}
    for field, template in templates.items():
        *parents, leaf = body_key(field)
        node = body
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = render(template, values)
    return body


def case_values(mapping: RestMapping, enquiry: Enquiry,
                destination: ServiceDestination) -> dict[str, Any]:
    """What the case body's placeholders stand for; only the listed constituent details."""
    person = enquiry.constituent.model_dump()
    values: dict[str, Any] = {
        "id": str(enquiry.id), "reference": enquiry.reference, "category": enquiry.category_id,
        "service": destination.name, "crm_target": destination.crm_target,
        "description": enquiry.description, "location": enquiry.location,
        "ward": enquiry.ward_id, "member": enquiry.member_id, "channel": enquiry.channel.value,
        "received_at": enquiry.received_at.astimezone(UTC).isoformat(),
        "target_date": enquiry.target_date.isoformat(),
    }
    for name in mapping.constituent_fields:
        values[f"constituent_{name}"] = person.get(name)
    return values
