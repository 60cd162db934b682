"""`user add | passwd | list | disable | enable`: portal accounts and their passwords.

Passwords are asked for twice on a terminal, or read from the first line of standard input
with --password-stdin (for scripts); they never appear on the command line. Every change is
written to the audit log as made by ``cli:<login>`` (the operating-system login), with the
role and staff group granted.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy import Connection

from crm_bridge.access.audit import cli_login, grant_detail, record
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.errors import InputError
from crm_bridge.portal.accounts import (
    UserRole,
    check_password,
    create_user,
    list_users,
    set_active,
    set_password,
)

__all__ = ["user"]


@click.group()
def user() -> None:
    """Portal accounts: members, members' services staff and administrators."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin", "standard input had no password on its first line")
        return check_password(line)
    if not sys.stdin.isatty():
        raise InputError("password", "not a terminal: pipe the password in with --password-stdin")
    while True:
        first = click.prompt("Password", hide_input=True, err=True)
        try:
            check_password(first)
        except InputError as exc:
            click.echo(f"password {exc.message}; try again", err=True)
            continue
        if click.prompt("Repeat password", hide_input=True, err=True) == first:
            return str(first)
        click.echo("the passwords did not match; try again", err=True)


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), required=True,
              help="member: own enquiries and those shared with them; staff: the casework of "
              "their staff group's members; admin: accounts only.")
@click.option("--member", "member_id", help="The member's id (member accounts only).")
@click.option("--group", "staff_group",
              help="Staff accounts: the staff group (access.staff_groups) [default: the only "
              "one, when the config has one].")
@click.option("--name", "display_name", help="Shown in the portal [default: the member's name].")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--sso-only", is_flag=True,
              help="No password: the account signs in only through the trusted header.")
@click.option("--replace", is_flag=True,
              help="Update the account if it exists (role, name, password) instead of failing.")
@click.pass_obj
def add(ctx: CliContext, username: str, role: str, member_id: str | None,
        staff_group: str | None, display_name: str | None, password_stdin: bool,
        sso_only: bool, replace: bool) -> None:
    """Add a portal account."""
    bridge = ctx.bridge()
    password = None if sso_only else _password(password_stdin)
    now = datetime.now(UTC)
    with bridge.engine.begin() as conn:
        account = create_user(conn, bridge.config, username, UserRole(role), display_name,
                              member_id, password, now, replace=replace,
                              staff_group=staff_group)
        _audit(conn, now, "user_added", account.username,
               grant_detail(account.role.value, account.staff_group, account.member_id))
    group = f", staff group {account.staff_group}" if account.staff_group else ""
    click.echo(f"{account.username} ({account.role.value}{group}) ready")


def _audit(conn: Connection, now: datetime, action: str, username: str,
           detail: str = "") -> None:
    login = cli_login()
    record(conn, now, login, action, None, detail, via=login,
           target_user=username.strip().lower())


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def passwd(ctx: CliContext, username: str, password_stdin: bool) -> None:
    """Set a new password; signs the user out everywhere and clears any lock-out."""
    bridge = ctx.bridge()
    password = _password(password_stdin)
    with bridge.engine.begin() as conn:
        set_password(conn, username, password)
        _audit(conn, datetime.now(UTC), "password_set", username)
    click.echo(f"password changed for {username.strip().lower()}")


@user.command("list")
@json_option
@click.pass_obj
def list_command(ctx: CliContext, as_json: bool) -> None:
    """List the accounts."""
    with ctx.bridge().engine.connect() as conn:
        accounts = list_users(conn)
    if as_json:
        emit_json([{"username": a.username, "name": a.display_name, "role": a.role.value,
                    "member_id": a.member_id, "staff_group": a.staff_group, "active": a.active,
                    "last_login_at": a.last_login_at} for a in accounts])
        return
    if not accounts:
        click.echo("no accounts yet: add one with 'crm-bridge user add USERNAME --role admin'")
        return
    table(["username", "role", "member / group", "name", "active", "last sign-in"],
          [[a.username, a.role.value, a.member_id or a.staff_group or "", a.display_name,
            "yes" if a.active else "no",
            a.last_login_at.strftime("%Y-%m-%d %H:%M") if a.last_login_at else "never"]
           for a in accounts])


@user.command("disable")
@click.argument("username")
@click.pass_obj
def disable(ctx: CliContext, username: str) -> None:
    """Stop an account signing in (and end its sessions now)."""
    with ctx.bridge().engine.begin() as conn:
        set_active(conn, username, False)
        _audit(conn, datetime.now(UTC), "user_disabled", username)
    click.echo(f"{username.strip().lower()} disabled")


@user.command("enable")
@click.argument("username")
@click.pass_obj
def enable(ctx: CliContext, username: str) -> None:
    """Let a disabled account sign in again."""
    with ctx.bridge().engine.begin() as conn:
        set_active(conn, username, True)
        _audit(conn, datetime.now(UTC), "user_enabled", username)
    click.echo(f"{username.strip().lower()} enabled")
