"""`connector check | setup`: is the CRM ready for the bridge, and make it ready where it can.

`check` only reads; `setup` creates what the mapping needs (queues, custom fields)
in a CRM whose connector offers it (the ``SupportsSetup`` capability) and then
checks again. A connector without that capability is checked by its health call.
Neither needs the state store. Exit 0: ready; 1: something to fix (each line
says what); 2: configuration error.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, get_args

import click
from pydantic import BaseModel, SecretStr

from connectors.base import Finding, SupportsSetup
from crm_bridge.app import Bridge
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.errors import AuthError, MisconfiguredError, PermanentError, TransientError
from crm_bridge.registry import configured_class

__all__ = ["connector"]


@click.group()
def connector() -> None:
    """Check the CRM connection; create the queues and fields the mapping needs."""


@connector.command("check")
@json_option
@click.pass_obj
def check(ctx: CliContext, as_json: bool) -> None:
    """Say what is missing or unreachable in the CRM, and what to do about it."""
    _report(_findings(ctx.bridge(check_schema=False), setup=False), as_json)


@connector.command("setup")
@json_option
@click.pass_obj
def setup(ctx: CliContext, as_json: bool) -> None:
    """Create what the mapping needs in the CRM (safe to repeat), then check."""
    _report(_findings(ctx.bridge(check_schema=False), setup=True), as_json)


def _findings(bridge: Bridge, setup: bool) -> list[Finding]:
    kind = bridge.config.connector.type
    subject = f"connector '{kind}'"
    crm = _crm_findings(bridge, subject, setup)
    return (_written_secrets(bridge) + crm + _photos(bridge, crm) + _unplaced(bridge)
            + _held(bridge))


def _photos(bridge: Bridge, crm: list[Finding]) -> list[Finding]:
    """Whether photos reach the CRM (said when the CRM answered: its connector is open)."""
    from crm_bridge.sync.attachments import attachment_findings

    if not all(f.ok for f in crm):
        return []
    return attachment_findings(bridge.engine, bridge.connector())


def _held(bridge: Bridge) -> list[Finding]:
    """CRM statuses sync met that the mapping does not place: the changes on them are held
    (the store remembers them) and applied by the first sync after the mapping has them."""
    from crm_bridge.registry import mapping_path
    from crm_bridge.sync.held import unmapped_held

    waiting = unmapped_held(bridge.engine, configured_class(bridge.loaded).name)
    if not waiting:
        return []
    mapping, path = bridge.mapping(), mapping_path(bridge.loaded)
    findings = []
    for status, count in sorted(waiting.items()):
        if mapping.bridge_status(status) is not None:
            findings.append(Finding(f"CRM status '{status}'", True,
                                    f"{count} held update(s): the mapping places it now; "
                                    "the next `crm-bridge sync` applies them"))
        else:
            findings.append(Finding(
                f"CRM status '{status}'", False,
                f"{count} update(s) from the CRM are held: {path} does not place this "
                f"status: add it under statuses (e.g. '{status}: in_progress'), then run "
                "`crm-bridge sync`"))
    return findings


def _unplaced(bridge: Bridge) -> list[Finding]:
    """Error codes sync met that the mapping does not place (the store remembers them)."""
    from crm_bridge.sync.codes import unplaced_in_store

    return [Finding(f"CRM error code {code}", False,
                    f"\"{words}\" held up {count} item(s) and is not placed in the mapping: "
                    "add it to transient_error_codes, permanent_error_codes or "
                    "auth_error_codes, then `crm-bridge enquiry retry --all-failed`")
            for code, (words, count) in sorted(unplaced_in_store(bridge.engine).items())]


def _crm_findings(bridge: Bridge, subject: str, setup: bool) -> list[Finding]:
    try:
        crm = bridge.connector()  # a ConfigError here exits 2, naming the line
        crm.health()
        if isinstance(crm, SupportsSetup):
            services = bridge.config.services
            return crm.setup(services) if setup else crm.check(services)
    except TransientError as exc:
        return [Finding(subject, False, f"cannot be reached: {exc}; check its url (or path) "
                                        "and that the CRM is running")]
    except AuthError as exc:
        return [Finding(subject, False, f"refused the bridge: {exc}; check the credentials "
                                        "and the environment variables they come from")]
    except (PermanentError, MisconfiguredError) as exc:
        return [Finding(subject, False, str(exc))]
    detail = "answers; it has nothing to set up" if setup else "answers"
    return [Finding(subject, True, detail)]


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _written_secrets(bridge: Bridge) -> list[Finding]:
    """A connector secret typed into the file instead of ``${VARIABLE}``: it belongs in the
    environment (the systemd unit's EnvironmentFile=), where the config file never shows it."""
    loaded = bridge.loaded
    settings: type[BaseModel] = configured_class(loaded).Settings
    lines = loaded.path.read_text(encoding="utf-8").splitlines()
    found = []
    for name, field in settings.model_fields.items():
        if name not in loaded.config.connector.options() or not _is_secret(field.annotation):
            continue
        line = loaded.source.line_of(("connector", name))
        if line is not None and "${" not in lines[line - 1]:
            found.append(Finding(
                f"connector.{name} ({loaded.path.name} line {line})", False,
                f"the secret is written in the file: set it in the environment and write "
                f"{name}: ${{VARIABLE}} instead"))
    return found


def _report(findings: list[Finding], as_json: bool) -> None:
    problems = [f for f in findings if not f.ok]
    if as_json:
        emit_json({"ok": not problems, "findings": [asdict(f) for f in findings]})
    else:
        for finding in findings:
            mark = "created" if finding.changed else ("ok" if finding.ok else "PROBLEM")
            click.echo(f"{mark:8} {finding.subject}: {finding.detail}")
        if problems:
            click.echo(f"{len(problems)} problem(s): fix them, then run "
                       "`crm-bridge connector check` again")
        else:
            click.echo("ready: the bridge can open cases in the CRM")
    if problems:
        raise click.exceptions.Exit(1)
