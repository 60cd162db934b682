"""`init` (a working config for a new council) and `check-config`."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from crm_bridge.app import Bridge
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.errors import ConfigError
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.migrate import upgrade

__all__ = ["check_config", "init"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.yaml.")
def init(directory: Path, force: bool) -> None:
    """Create DIRECTORY with a working config.yaml, mappings/ and an empty store."""
    target = directory / "config.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists: edit it, or pass --force to replace it")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(example_config(), target)
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
        upgrade(bridge.engine)
    finally:
        bridge.close()
    click.echo(f"created {target}, {mappings}/ and the state store")
    click.echo("next: edit config.yaml for your council, then run")
    click.echo(f"  crm-bridge --config {target} check-config")


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
    if as_json:
        emit_json({"ok": True, **summary})
        return
    click.echo(
        f"{summary['file']}: OK: {summary['council']}, {summary['wards']} wards, "
        f"{summary['members']} members ({summary['councillors']} councillors), "
        f"{summary['categories']} categories to {summary['services']} services, "
        f"connector '{summary['connector']}'"
    )
