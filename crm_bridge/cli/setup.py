"""`init` (a working config for a new council) and `check-config`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crm_bridge.app import Bridge
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.config.yamlsource import read_yaml
from crm_bridge.errors import ConfigError, InputError
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import missing_store, upgrade

# The example's lines init changes: mail goes to a folder until a server is configured (a
# trial machine has none), and the store is the one given with --store.
_SMTP_LINE = "  transport: smtp\n"
_FOLDER_LINE = "  transport: folder  # .eml files in mail/; smtp once a mail server is set below\n"
_STORE_LINE = "  url: sqlite:///crm-bridge.db\n"

__all__ = ["check_config", "init"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.yaml.")
@click.option("--store", "store_url", metavar="URL",
              help="The state store [default: sqlite:///crm-bridge.db, beside the config], "
              "e.g. postgresql://crm_bridge:${DB_PASSWORD}@db.internal/crm_bridge.")
def init(directory: Path, force: bool, store_url: str | None) -> None:
    """Create DIRECTORY with a working config.yaml, mappings/ and an empty store.

    The config runs as it is: the example council, the embedded local CRM, and e-mail
    written as .eml files into DIRECTORY/mail/ until smtp: names a mail server.
    """
    target = directory / "config.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists: edit it, or pass --force to replace it")
    if store_url is not None:
        _check_store(store_url)
    text = example_config().read_text(encoding="utf-8")
    text = text.replace(_SMTP_LINE, _FOLDER_LINE, 1)
    if store_url is not None:
        text = text.replace(_STORE_LINE, f"  url: {json.dumps(store_url)}\n", 1)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    target.chmod(0o600)  # it will hold the council's settings, and may hold secrets
    mappings = directory / "mappings"
    mappings.mkdir(exist_ok=True)
    for source in sorted(shipped_mappings().glob("*.yaml")):
        destination = mappings / source.name
        if force or not destination.exists():
            shutil.copyfile(source, destination)
    bridge = Bridge.open(target, check_schema=False)
    try:
        bridge.check_connector()
        missing = missing_store(bridge.engine, creating=True)
        if missing is not None:
            raise ConfigError(missing)
        upgrade(bridge.engine)
    finally:
        bridge.close()
    click.echo(f"created {target}, {mappings}/ and the state store")
    click.echo("next: edit config.yaml for your council, then run")
    click.echo(f"  crm-bridge --config {target} check-config")


def _check_store(url: str) -> None:
    """Refuse a --store that is malformed, holds a password, or cannot be reached, before
    anything is written."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise InputError("--store", f"'{url}' is not a store URL: give sqlite:///FILE or "
                         "postgresql://USER@HOST[:PORT]/DATABASE")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError("--store", f"'{url}' is not a store URL: give sqlite:///FILE or "
                         "postgresql://USER@HOST[:PORT]/DATABASE") from None
    if parsed.password is not None and "${" not in url:
        raise InputError("--store", "the password would be written into config.yaml: give "
                         "${VARIABLE} in its place (postgresql://user:${DB_PASSWORD}@host/db) "
                         "and export VARIABLE")
    if parsed.get_backend_name() != "postgresql":
        return
    if not parsed.host or not parsed.database:
        raise InputError("--store", "name the server and the database: "
                         "postgresql://USER@HOST[:PORT]/DATABASE")
    # ${VAR} as config.yaml will read it, so a missing variable is named now.
    resolved = read_yaml(f"url: {json.dumps(url)}", "--store").data["url"]
    engine = make_engine(resolved)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


@click.command("check-config")
@json_option
@click.pass_obj
def check_config(ctx: CliContext, as_json: bool) -> None:
    """Validate the config, its cross-references, the connector settings and mapping."""
    bridge = ctx.bridge(check_schema=False)
    mapping = bridge.check_connector()
    config = bridge.config
    summary = {
        "file": str(bridge.loaded.path),
        "council": config.council.name,
        "wards": len(config.wards),
        "members": len(config.members),
        "councillors": sum(1 for m in config.members if m.role.value == "councillor"),
        "categories": len(config.categories),
        "services": len(config.services),
        "connector": config.connector.type,
        "mapped_statuses": len(mapping.statuses),
    }
    # Unset variables of the connector's settings warn, not fail: the file is right, and
    # only the commands that talk to the CRM need them (often set only for their service).
    unset = [str(issue) for issue in bridge.unset_connector_variables()]
    if as_json:
        emit_json({"ok": True, **summary, "warnings": unset})
        return
    for warning in unset:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{summary['file']}: OK: {summary['council']}, {summary['wards']} wards, "
        f"{summary['members']} members ({summary['councillors']} councillors), "
        f"{summary['categories']} categories to {summary['services']} services, "
        f"connector '{summary['connector']}'"
    )
