"""`villagebook config path`: where the interface's settings file lives."""

from __future__ import annotations

import click

from villagebook.cli.base import Context, cli, pass_context


@cli.group()
def config() -> None:
    """The interface's settings file (theme, remapped keys)."""


@config.command(name="path")
@pass_context
def config_path(obj: Context) -> None:
    """Print the path of the settings file (it may not exist yet)."""
    from villagebook.services.config_file import config_path as path_of

    click.echo(str(path_of(obj.home)))
