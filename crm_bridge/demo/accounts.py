"""The demo council's portal accounts: one per kind of user, with passwords anyone may read.

They exist only in the demo's own store, so someone trying the bridge can sign in to the
portal straight after `crm-bridge demo` (`make demo` serves it) as a councillor, her ward
colleague, members' services staff or an administrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_bridge.app import Bridge
from crm_bridge.portal.accounts import UserRole, create_user

__all__ = ["DEMO_ACCOUNTS", "DemoAccount", "add_accounts"]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: UserRole
    member_id: str | None
    display_name: str | None
    who: str  # what the account shows, for the summary

    def as_dict(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password,
                "role": self.role.value, "who": self.who}


DEMO_ACCOUNTS = (
    DemoAccount("kirsty", "demo-member-1", UserRole.MEMBER, "cllr-kirsty-dalgleish", None,
                "councillor, Clackmannanshire North"),
    DemoAccount("iain", "demo-member-2", UserRole.MEMBER, "cllr-iain-tennant", None,
                "her ward colleague"),
    DemoAccount("staff", "demo-staff-1", UserRole.STAFF, None, "Members' services",
                "members' services: every enquiry"),
    DemoAccount("admin", "demo-admin-1", UserRole.ADMIN, None, None, "accounts only"),
)


def add_accounts(bridge: Bridge, now: datetime) -> tuple[DemoAccount, ...]:
    """Make (or remake) the demo's accounts in one transaction."""
    with bridge.engine.begin() as conn:
        for account in DEMO_ACCOUNTS:
            create_user(conn, bridge.config, account.username, account.role,
                        account.display_name, account.member_id, account.password, now,
                        replace=True)
    return DEMO_ACCOUNTS
