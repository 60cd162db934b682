"""The portal's name for the access policy, which lives in ``crm_bridge.access.policy`` so
the portal, its API and the CLI all decide every read with the same functions."""

from __future__ import annotations

from crm_bridge.access.policy import (
    Principal,
    UserRole,
    can_add_note,
    can_log_for,
    can_view,
    consent_question,
    loggable_members,
    own_clause,
    principal_for,
    shared_branches,
    sharing_audience,
    visible_branches,
    visible_clause,
)

__all__ = [
    "Principal",
    "UserRole",
    "can_add_note",
    "can_log_for",
    "can_view",
    "consent_question",
    "loggable_members",
    "own_clause",
    "principal_for",
    "shared_branches",
    "sharing_audience",
    "visible_branches",
    "visible_clause",
]
