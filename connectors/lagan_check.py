"""`crm-bridge connector check` for Lagan: is FL ready for the bridge, and what to fix if not.

In order: the WSDL loads and has a binding for FL; the login is accepted; the bridge's FL
user (``connector.username``) is the one that raises the cases pull searches for, proved
by finding one of them (or, with ``check_test_case: true``, by opening a test case,
finding it as pull does, and closing it); every service has a classification and queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import Finding
from connectors.lagan_mapping import external_ref
from connectors.lagan_pull import CaseReader
from crm_bridge.errors import ConnectorError
from crm_bridge.models import ServiceDestination

if TYPE_CHECKING:
    from connectors.lagan import LaganConnector

__all__ = ["check"]

TEST_TITLE = "crm-bridge connector check: test case, closed at once"


def check(crm: LaganConnector, destinations: Sequence[ServiceDestination]) -> list[Finding]:
    findings: list[Finding] = []
    where = f"FL at {crm.settings.url}"
    try:
        crm.wire.service()
        findings.append(Finding(f"FL WSDL at {crm.wire.wsdl}", True,
                                f"read and understood (binding {crm.wire.binding})"))
        crm.health()
        findings.append(Finding(where, True, f"accepts the bridge's login "
                                             f"({crm.settings.auth}, user '{crm.user}')"))
    except ConnectorError as exc:
        what = "the WSDL" if not findings else "the login"
        return [*findings, Finding(where, False, f"{what} failed: {exc}")]
    findings.append(_identity(crm, destinations))
    findings.extend(_classifications(crm, destinations))
    for code, words in crm.wire.unplaced.items():
        findings.append(Finding(f"FL ErrorCode {code}", False, f"\"{words}\" is not placed in "
                                "mappings/lagan.yaml: add it to transient_error_codes, "
                                "permanent_error_codes or auth_error_codes"))
    for code, words in crm.wire.cleared_by_login.items():
        findings.append(Finding(f"FL ErrorCode {code}", False, f"\"{words}\" was cleared by "
                                "logging in again: add it to auth_error_codes"))
    return findings


def _identity(crm: LaganConnector, destinations: Sequence[ServiceDestination]) -> Finding:
    """Can pull find what the bridge creates? Its search is by RaisedByUser = username."""
    subject = f"the bridge's FL user '{crm.user}'"
    try:
        if crm.settings.check_test_case:
            return _test_case(crm, destinations, subject)
        found = crm._search_raw({**crm._criteria(), "ResultsLimit": 1})
    except ConnectorError as exc:
        return Finding(subject, False, f"could not be checked: {exc}")
    if found:
        return Finding(subject, True, f"pull's search finds the cases it raised (e.g. case "
                                      f"{found[0].ref})")
    return Finding(subject, False, "pull's search finds no case raised by this user. If the "
                   "bridge has opened cases, FL records another user on them and no note or "
                   "closure will come back: make connector.username the user FL shows as "
                   "'raised by'. To prove it on a new installation, set check_test_case: true "
                   "and run the check again (it opens a test case, finds it, and closes it)")


def _test_case(crm: LaganConnector, destinations: Sequence[ServiceDestination],
               subject: str) -> Finding:
    target = next((t for d in destinations
                   if (t := crm.mapping.classifications.get(d.crm_target)
                       or crm.mapping.classifications.get(d.id)) is not None), None)
    if target is None:
        return Finding(subject, False, "no service has a classification to open a test case "
                                       "with: add one under classifications")
    marker = crm.mapping.marker(f"check-{crm.user}")
    request: dict[str, Any] = {"ClassificationEventCode": target.code,
                               "Title": f"{TEST_TITLE} {marker}"}
    if target.queue:
        request["Queue"] = target.queue
    ref = str(crm.wire.call("createCase", **request))
    try:
        reader = CaseReader(crm._search_raw, crm.settings.search_page_size)
        criteria = {**crm._criteria(), "Title": marker}
        found = [c for c in reader.read(criteria)[0] if c.ref == ref]
    finally:
        crm.wire.call("closeCases", CaseReference=[ref],
                      Reason={"Title": "Withdrawn", "Description": TEST_TITLE})
    if found and external_ref(found[0], crm.mapping) is not None:
        return Finding(subject, True, f"test case {ref} was opened, found by pull's search "
                                      "and closed")
    raised_by = crm._details(ref).raised_by
    return Finding(subject, False, f"test case {ref} (now closed) was opened but pull's "
                   f"search by RaisedByUser '{crm.user}' does not find it: FL raised it as "
                   f"'{raised_by}'; set connector.username to the user FL raises the "
                   "bridge's cases as")


def _classifications(crm: LaganConnector,
                     destinations: Sequence[ServiceDestination]) -> list[Finding]:
    findings = []
    for destination in destinations:
        subject = f"service '{destination.id}' (crm_target '{destination.crm_target}')"
        target = (crm.mapping.classifications.get(destination.crm_target)
                  or crm.mapping.classifications.get(destination.id))
        if target is None:
            findings.append(Finding(subject, False, "has no ClassificationEventCode: add "
                                    f"'{destination.crm_target}: {{code: N, queue: Q}}' "
                                    "under classifications in mappings/lagan.yaml"))
        elif target.queue is None:
            findings.append(Finding(subject, False, f"classification {target.code} has no "
                                    "queue: add queue: in mappings/lagan.yaml"))
        else:
            findings.append(Finding(subject, True, f"classification {target.code}, "
                                    f"queue '{target.queue}'"))
    return findings
