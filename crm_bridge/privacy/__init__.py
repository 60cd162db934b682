"""Data protection: retention and purge, subject access, rectification and erasure,
members leaving office. Each right has a command (crm_bridge/cli/purge.py, sar.py,
member.py); the work is here, so the rules live in one place. See docs/data-protection.md.
"""

from __future__ import annotations

import getpass

__all__ = ["cli_actor"]


def cli_actor() -> str:
    """Who ran a command, as the audit log names them: ``cli:<login name>``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor the password file
        login = "unknown"
    return f"cli:{login}"
