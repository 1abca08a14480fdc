"""The `shelfcast` command."""

from __future__ import annotations

import typer

from shelfcast.cli import data, models
from shelfcast.cli import stack as stack_cli
from shelfcast.cli.forecast import forecast
from shelfcast.cli.train import train

app = typer.Typer(
    help="Shelfcast: weekly unit-sales forecasts per book, and their model lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(data.app, name="data")
app.command("forecast")(forecast)
app.command("train")(train)
app.add_typer(stack_cli.app, name="stack")
app.add_typer(models.app, name="models")
