"""A click group whose sub-commands are imported only when one of them is used.

`crm-bridge --version` and `--help` must not pay for FastAPI, SQLAlchemy, Alembic or a
connector: each command is named here by ``module:attribute`` with its one-line help, so
the command list prints without importing anything, and a command's module is imported
when that command runs (or its own ``--help`` is asked for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import click

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a sub-command lives, and the help line the command list shows for it.

    ``help`` must be the command's own short help (a test compares them); ``subcommands``
    are further ``module:attribute`` commands added to it when it is loaded (a group
    assembled from several modules).
    """

    target: str
    help: str
    subcommands: tuple[str, ...] = ()

    def load(self) -> click.Command:
        command = _resolve(self.target)
        if self.subcommands:
            if not isinstance(command, click.Group):
                raise TypeError(f"{self.target} is not a click group")
            for sub in self.subcommands:
                command.add_command(_resolve(sub))
        return command


def _resolve(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    command = getattr(import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class LazyGroup(click.Group):
    """A group that imports each sub-command on first use."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the declared help lines for commands not yet imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # A command not imported yet is shown through a stand-in carrying its help line,
            # shortened by click's own rule.
            shown = self.commands.get(name) or click.Command(name, help=self.lazy[name].help)
            if not shown.hidden:
                rows.append((name, shown.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
