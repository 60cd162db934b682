"""What becomes of the copy of an enquiry held in the council's CRM when the bridge removes
its own: anonymised there by a connector that can (``CaseAnonymiser``), else listed for the
people who run the CRM to action under its own retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.base import CaseAnonymiser, Connector
from crm_bridge.errors import ConnectorError, CrmBridgeError

__all__ = ["CrmCase", "CrmOutcome", "action_cases"]


@dataclass(frozen=True)
class CrmCase:
    reference: str
    crm_ref: str


@dataclass
class CrmOutcome:
    """Cases anonymised by the bridge, and cases to action in the CRM (with why)."""

    anonymised: list[CrmCase] = field(default_factory=list)
    to_action: list[tuple[CrmCase, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "anonymised": [{"reference": c.reference, "crm_ref": c.crm_ref}
                           for c in self.anonymised],
            "to_action": [{"reference": c.reference, "crm_ref": c.crm_ref, "why": why}
                          for c, why in self.to_action],
        }


def action_cases(cases: Sequence[CrmCase], anonymise: bool,
                 connector: Callable[[], Connector], why_listed: str) -> CrmOutcome:
    """Anonymise ``cases`` in the CRM when ``anonymise`` and the connector can; list the rest.

    A case the CRM could not anonymise (down, refused) is listed with the CRM's reason: the
    bridge's own copy is already gone, so the list is what is left to do.
    """
    outcome = CrmOutcome()
    if not cases:
        return outcome
    if not anonymise:
        outcome.to_action = [(case, why_listed) for case in cases]
        return outcome
    try:
        opened = connector()
    except CrmBridgeError as exc:  # the bridge's part is done: say what is left, and why
        outcome.to_action = [(case, f"the CRM connector could not be opened: {exc}")
                             for case in cases]
        return outcome
    if not isinstance(opened, CaseAnonymiser):
        name = getattr(opened, "name", "this")
        outcome.to_action = [(case, f"the {name} connector cannot anonymise cases: "
                                    "anonymise or delete it in the CRM") for case in cases]
        return outcome
    for case in cases:
        try:
            opened.anonymise_case(case.crm_ref)
        except ConnectorError as exc:
            outcome.to_action.append((case, f"the CRM did not anonymise it: {exc}"))
        else:
            outcome.anonymised.append(case)
    return outcome
