"""The `shelfcast` command: parses options, calls the application layer (`shelfcast.lifecycle`),
prints the result (`shelfcast.views`)."""

from __future__ import annotations

from shelfcast.cli import data, models
from shelfcast.cli import endpoints as endpoints_cli
from shelfcast.cli import monitor as monitor_cli
from shelfcast.cli import package as package_cli
from shelfcast.cli import stack as stack_cli
from shelfcast.cli.common import App
from shelfcast.cli.dashboard import dashboard
from shelfcast.cli.forecast import forecast
from shelfcast.cli.run import run
from shelfcast.cli.serve import predict, serve
from shelfcast.cli.train import train

app = App(
    help="Shelfcast: weekly unit-sales forecasts per book, and their model lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.command("forecast")(forecast)
app.command("train")(train)
app.add_typer(stack_cli.app, name="stack")
app.add_typer(models.app, name="models")
app.command("package")(package_cli.package_command)
app.add_typer(package_cli.app, name="releases")
app.command("serve")(serve)
app.command("predict")(predict)
app.command("deploy")(endpoints_cli.deploy)
app.add_typer(endpoints_cli.app, name="endpoints")
app.command("dashboard")(dashboard)
app.add_typer(monitor_cli.app, name="monitor")
app.command("run")(run)
