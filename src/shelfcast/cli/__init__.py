"""The `shelfcast` command."""

from __future__ import annotations

import typer

from shelfcast.cli import data
from shelfcast.cli.forecast import forecast

app = typer.Typer(
    help="Shelfcast: weekly unit-sales forecasts per book, and their model lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(data.app, name="data")
app.command("forecast")(forecast)
